import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { decodeCheckpoint, encodeCheckpoint } from '../../../ml/core/checkpoint';
import { ParamStore } from '../../../ml/core/params';
import { Prng } from '../../../ml/core/prng';
import { resolveProfile, type Profile } from '../../../ml/profiles';
import type { GrayImage, PointYX, TrainProgress } from '../../../ml/types';
import { createTplPredictor, createTplTrainer, decodeVoting, diskRadius, predictLandmarks, tplLearningRate } from '../../../ml/tpl';
import { defineTplNetwork, HEAT_PRIOR, splitTplOutput, tplForward } from '../../../ml/tpl/network';
import { maxDiskRows } from '../../../ml/tpl/codec';
import { tplBatches } from '../../../ml/tpl/trainer';

/** 64×64 gray images with Gaussian dots at the landmarks: even landmarks bright, odd ones dark. */
function dotSample(prng: Prng, size: number, k: number): { img: GrayImage; pts: PointYX[] } {
  const pts = Array.from({ length: k }, () => [6 + prng.int(size - 12), 6 + prng.int(size - 12)] as PointYX);
  const data = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let v = 0.5;
      pts.forEach(([py, px], i) => {
        v += (i % 2 === 0 ? 0.5 : -0.5) * Math.exp(-((y - py) ** 2 + (x - px) ** 2) / 8);
      });
      data[y * size + x] = v;
    }
  }
  return { img: { height: size, width: size, data }, pts };
}

function dataset(seed: number, n: number, size = 64, k = 2) {
  const prng = Prng.fromSeed(seed);
  const train = Array.from({ length: n }, () => dotSample(prng, size, k));
  const template = dotSample(prng, size, k);
  return {
    images: train.map((s) => s.img), pseudoLabels: train.map((s) => s.pts),
    template: template.img, templateLandmarks: template.pts,
  };
}

/**
 * Trains the TPL net 60 steps on 24 dot images (+ template) drawn from data seed `dataSeed`, with
 * K dots per image; returns the exported weights, the per-step progress and 8 unseen test samples.
 */
async function trainOnDots(profile: Profile, dataSeed: number, k: number) {
  const prng = Prng.fromSeed(dataSeed);
  const train = Array.from({ length: 24 }, () => dotSample(prng, 64, k));
  const template = dotSample(prng, 64, k);
  const test = Array.from({ length: 8 }, () => dotSample(prng, 64, k));
  const trainer = await createTplTrainer({
    profile, images: train.map((s) => s.img), pseudoLabels: train.map((s) => s.pts),
    template: template.img, templateLandmarks: template.pts, seed: 3,
  });
  const log: TrainProgress[] = [];
  await trainer.train(profile.tpl.steps, (p) => log.push(p));
  const weights = await trainer.exportWeights();
  trainer.dispose();
  return { weights, log, test };
}

/** Reference decoding: forward, read the full heatmap / offset maps, decodeVoting per image. */
async function fullMapDecode(profile: Profile, weights: Uint8Array, images: GrayImage[], k: number): Promise<PointYX[][]> {
  const p = new ParamStore(Prng.fromSeed(0));
  defineTplNetwork(p, { width: profile.tpl.width, landmarkCount: k });
  p.load(decodeCheckpoint(weights).params);
  const s = profile.inputSize;
  const out: PointYX[][] = [];
  for (const img of images) {
    const planar = tf.tidy(() => {
      const o = splitTplOutput(tplForward(p, tf.tensor4d(img.data, [1, s, s, 1])), k);
      return tf.transpose(tf.concat([tf.sigmoid(o.heatLogits), o.offsetX, o.offsetY], 3), [0, 3, 1, 2]);
    });
    const d = (await planar.data()) as Float32Array;
    planar.dispose();
    const n = k * s * s;
    out.push(decodeVoting(d.subarray(0, n), d.subarray(n, 2 * n), d.subarray(2 * n), s, s, diskRadius(s, profile.tpl.radiusFraction), k));
  }
  p.dispose();
  return out;
}

async function weightsOf(bytes: Uint8Array): Promise<Map<string, Float32Array>> {
  return new Map(decodeCheckpoint(bytes).params.map((a) => [a.name, a.data]));
}

describe('TPL network', () => {
  it('maps [N, S, S, 1] to [N, S, S, 3K] and starts the heatmap near p = 0.01', () => {
    const p = new ParamStore(Prng.fromSeed(1));
    defineTplNetwork(p, { width: 0.0625, landmarkCount: 3 });
    try {
      const bias = p.get('final/b').dataSync();
      expect(Array.from(bias.slice(0, 3)).map((b) => 1 / (1 + Math.exp(-b)))).toEqual([HEAT_PRIOR, HEAT_PRIOR, HEAT_PRIOR].map((v) => expect.closeTo(v, 6)));
      expect(Array.from(bias.slice(3))).toEqual([0, 0, 0, 0, 0, 0]);
      tf.tidy(() => {
        const out = tplForward(p, tf.randomUniform([2, 64, 64, 1], 0, 1, 'float32', 3) as tf.Tensor4D);
        expect(out.shape).toEqual([2, 64, 64, 9]);
        const { heatLogits, offsetX, offsetY } = splitTplOutput(out, 3);
        expect([heatLogits.shape, offsetX.shape, offsetY.shape]).toEqual([[2, 64, 64, 3], [2, 64, 64, 3], [2, 64, 64, 3]]);
        const meanP = tf.mean(tf.sigmoid(heatLogits)).dataSync()[0]!;
        expect(meanP).toBeGreaterThan(0.003);
        expect(meanP).toBeLessThan(0.05);
      });
      expect(() => tf.tidy(() => tplForward(p, tf.zeros([1, 48, 64, 1]) as tf.Tensor4D))).toThrow(/multiple of 32/);
    } finally {
      p.dispose();
    }
  });
});

describe('TPL trainer', () => {
  it('lr: multiplied by gamma at each decay step', () => {
    const tpl = resolveProfile('paper').tpl;
    expect(tplLearningRate(tpl, 0)).toBe(3e-4);
    expect(tplLearningRate(tpl, 14_999)).toBe(3e-4);
    expect(tplLearningRate(tpl, 15_000)).toBeCloseTo(3e-5, 12);
    expect(tplLearningRate(tpl, 30_000)).toBeCloseTo(3e-6, 12);
  });

  it('N steps straight = N/2 steps + checkpoint + resume + N/2 steps (weights, optimizer, data order)', async () => {
    // 3 images, 2 per batch: batches straddle epochs; the lr cut at step 6 falls in the second half.
    const profile = resolveProfile('smoke', { tpl: { batchPseudo: 2, steps: 8, lrDecaySteps: [6] } });
    const data = dataset(21, 3);
    const straight = await createTplTrainer({ ...data, profile, seed: 9 });
    const lossesA: number[] = [];
    await straight.train(8, (p) => lossesA.push(p.loss));
    const wA = await weightsOf(await straight.exportWeights());
    straight.dispose();

    const first = await createTplTrainer({ ...data, profile, seed: 9 });
    const lossesB: number[] = [];
    await first.train(4, (p) => lossesB.push(p.loss));
    const ckpt = await first.checkpoint();
    first.dispose();
    const resumed = await createTplTrainer({ ...data, profile, seed: 9, checkpoint: ckpt });
    expect(resumed.step).toBe(4);
    const last = await resumed.train(100, (p) => lossesB.push(p.loss)); // capped at totalSteps
    expect(last.step).toBe(8);
    expect(last.lr).toBeCloseTo(profile.tpl.lr * profile.tpl.lrGamma, 12);
    const wB = await weightsOf(await resumed.exportWeights());
    resumed.dispose();

    expect(lossesB).toEqual(lossesA);
    let maxDiff = 0;
    for (const [name, a] of wA) {
      const b = wB.get(name)!;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    }
    // On the native backend the two runs agree bit for bit.
    expect(maxDiff).toBe(0);
  });

  it('refuses a checkpoint from other data or another landmark count', async () => {
    const profile = resolveProfile('smoke');
    const data = dataset(22, 2);
    const t = await createTplTrainer({ ...data, profile, seed: 1 });
    await t.train(1);
    const ckpt = await t.checkpoint();
    t.dispose();
    const other = dataset(23, 2);
    const before = tf.memory().numTensors;
    await expect(createTplTrainer({ ...other, profile, seed: 1, checkpoint: ckpt })).rejects.toThrow(/other data/);
    await expect(createTplTrainer({ ...data, profile, seed: 2, checkpoint: ckpt })).rejects.toThrow(/seed/);
    const k3 = dataset(22, 2, 64, 3);
    await expect(createTplTrainer({ ...k3, profile, seed: 1, checkpoint: ckpt })).rejects.toThrow(/landmarkCount/);
    expect(tf.memory().numTensors).toBe(before); // failed resumes free what they built
  });

  it('labelMask: a left-out label teaches nothing (its value does not matter), an all-true mask changes nothing, and the mask changes what is learnt', async () => {
    const profile = resolveProfile('smoke', { tpl: { batchPseudo: 2, steps: 4, lrDecaySteps: [] } });
    const data = dataset(26, 3);
    const mask = [[true, false], [false, false], [true, true]];
    // The left-out labels moved elsewhere (still on the grid): same mask, other values.
    const moved = data.pseudoLabels.map((pts, i) => pts.map((p, j) => (mask[i]![j] ? p : [(p[0] + 17) % 64, (p[1] + 29) % 64] as PointYX)));
    const run = async (pseudoLabels: PointYX[][], labelMask?: boolean[][]) => {
      const start = tf.memory().numTensors;
      const t = await createTplTrainer({ ...data, pseudoLabels, profile, seed: 5, ...(labelMask ? { labelMask } : {}) });
      await t.train(1); // burn-in
      const counts: number[] = [];
      await t.train(3, () => counts.push(tf.memory().numTensors));
      expect(new Set(counts).size).toBe(1); // no leak per step with or without a mask
      const w = await weightsOf(await t.exportWeights());
      t.dispose();
      expect(tf.memory().numTensors).toBe(start);
      return w;
    };
    const maxDiff = (a: Map<string, Float32Array>, b: Map<string, Float32Array>) => {
      let m = 0;
      for (const [name, x] of a) x.forEach((v, i) => (m = Math.max(m, Math.abs(v - b.get(name)![i]!))));
      return m;
    };
    const plain = await run(data.pseudoLabels);
    const masked = await run(data.pseudoLabels, mask);
    expect(maxDiff(await run(moved, mask), masked)).toBe(0);
    expect(maxDiff(await run(data.pseudoLabels, mask.map((r) => r.map(() => true))), plain)).toBe(0);
    expect(maxDiff(await run(moved), plain)).toBeGreaterThan(0); // without the mask the moved labels do train
    expect(maxDiff(masked, plain)).toBeGreaterThan(0);

    // The mask is part of the data a checkpoint belongs to.
    const t = await createTplTrainer({ ...data, profile, seed: 5, labelMask: mask });
    await t.train(1);
    const ckpt = await t.checkpoint();
    t.dispose();
    await expect(createTplTrainer({ ...data, profile, seed: 5, checkpoint: ckpt })).rejects.toThrow(/other data/);
    await expect(createTplTrainer({ ...data, profile, seed: 5, labelMask: mask.slice(1) })).rejects.toThrow(/labelMask has 2 rows, expected 3/);
    await expect(createTplTrainer({ ...data, profile, seed: 5, labelMask: [[true], ...mask.slice(1)] })).rejects.toThrow(/labelMask\[0\] has 1 entries, expected K = 2/);
  });

  it('tplBatches with a label mask: left-out channels have no disk, no offset entries and weight 0; the template always trains', () => {
    const profile = resolveProfile('smoke', { tpl: { batchPseudo: 2 } });
    const data = dataset(27, 2);
    const k = 2;
    const s = profile.inputSize;
    const radius = diskRadius(s, profile.tpl.radiusFraction);
    const labelMask = [[false, true], [true, false]];
    const batch = tplBatches({ ...data, profile, seed: 1, labelMask }, Prng.fromSeed(3), radius, { epoch: 0, order: [0, 1], cursor: 0 }).next();
    expect(Array.from(batch.heatWeight!)).toEqual([0, 1, 1, 0, 1, 1]);
    const heatSum = (b: number, j: number) => {
      let sum = 0;
      for (let p = 0; p < s * s; p++) sum += batch.heat[(b * s * s + p) * k + j]!;
      return sum;
    };
    expect([heatSum(0, 0), heatSum(1, 1)]).toEqual([0, 0]);
    for (const [b, j] of [[0, 1], [1, 0], [2, 0], [2, 1]] as const) expect(heatSum(b, j)).toBeGreaterThan(0);
    // Each entry names (row, landmark); rows are batch pixels: no entry of a left-out channel.
    const channels = Array.from(batch.disk.entries, (e) => {
      const row = Math.floor(e / (3 * k));
      return [Math.floor(batch.disk.rows[row]! / (s * s)), (e % (3 * k)) - k].join(',');
    });
    expect(new Set(channels)).toEqual(new Set(['0,1', '1,0', '2,0', '2,1']));
    expect(tplBatches({ ...data, profile, seed: 1 }, Prng.fromSeed(3), radius, { epoch: 0, order: [0, 1], cursor: 0 }).next().heatWeight).toBeUndefined();
  });

  it('validates its inputs with messages naming the field', async () => {
    const profile = resolveProfile('smoke');
    const data = dataset(24, 2);
    await expect(createTplTrainer({ ...data, profile, seed: 1, pseudoLabels: data.pseudoLabels.slice(1) })).rejects.toThrow(/2 images but 1 pseudo-label/);
    await expect(createTplTrainer({ ...data, profile, seed: 1, pseudoLabels: [data.pseudoLabels[0]!, [[1, 1]]] })).rejects.toThrow(/pseudoLabels\[1\] has 1 landmarks, expected K = 2/);
    await expect(createTplTrainer({ ...data, profile, seed: 1, pseudoLabels: [data.pseudoLabels[0]!, [[1, 1], [70, 3]]] })).rejects.toThrow(/outside the 64×64 grid/);
    await expect(createTplTrainer({ ...data, profile, seed: 1, template: { height: 32, width: 64, data: new Float32Array(2048) } })).rejects.toThrow(/template is 32×64, expected 64×64/);
  });

  it('does not leak tensors across training steps or predictLandmarks, and frees the event loop between steps', async () => {
    const profile = resolveProfile('smoke', { tpl: { steps: 20 } });
    const data = dataset(25, 3);
    const start = tf.memory().numTensors;
    const t = await createTplTrainer({ ...data, profile, seed: 4 });
    await t.train(1); // burn-in
    const afterBurnIn = tf.memory().numTensors;
    const counts: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    await t.train(4, () => counts.push(tf.memory().numTensors));
    clearInterval(timer);
    expect(counts).toEqual([afterBurnIn, afterBurnIn, afterBurnIn, afterBurnIn]);
    expect(ticks).toBeGreaterThanOrEqual(3); // timers (heartbeats) ran while training
    await t.checkpoint();
    const weights = await t.exportWeights();
    expect(tf.memory().numTensors).toBe(afterBurnIn);
    t.dispose();
    expect(tf.memory().numTensors).toBe(start);

    const images = data.images;
    await predictLandmarks({ profile, weights, images, landmarkCount: 2, chunkSize: 2 }); // burn-in
    const beforePredict = tf.memory().numTensors;
    const pred = await predictLandmarks({ profile, weights, images, landmarkCount: 2, chunkSize: 2 });
    expect(pred).toHaveLength(3);
    expect(tf.memory().numTensors).toBe(beforePredict);
    expect(beforePredict).toBe(start);
    await expect(predictLandmarks({ profile, weights, images, landmarkCount: 3 })).rejects.toThrow(/landmarkCount = 2, the inputs say 3/);

    // A predictor reused across calls: same answers, stable tensor count, all freed on dispose.
    const predictor = createTplPredictor({ profile, weights, landmarkCount: 2, chunkSize: 2 });
    const loaded = tf.memory().numTensors;
    expect(await predictor.predict(images)).toEqual(pred);
    expect(await predictor.predict(images.slice(1))).toEqual(pred.slice(1));
    // Confidences are deterministic and in [0, 1], one per landmark, with the same landmarks.
    const detailed = await predictor.predictDetailed(images);
    expect(detailed.map((d) => d.landmarks)).toEqual(pred);
    expect(await predictor.predictDetailed(images)).toEqual(detailed);
    for (const d of detailed) {
      expect(d.confidence).toHaveLength(2);
      for (const [j, c] of d.confidence.entries()) {
        expect(c).toBeGreaterThanOrEqual(0);
        expect(c).toBeLessThanOrEqual(1);
        expect(c).toBeCloseTo(Math.sqrt(d.peak[j]! * d.agreement[j]!), 12);
      }
    }
    expect(tf.memory().numTensors).toBe(loaded);
    predictor.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('learns a tiny synthetic task: heat loss halves and landmarks on unseen images come within a few pixels', async () => {
    // One bright dot per 64×64 image. (With a bright and a dark dot, 60 steps of this tiny net
    // are not reliably enough for the bright one across seeds; one dot succeeded for every data
    // seed tried, 5–8. Landmark-index bookkeeping with K > 1 is covered by the codec, sparse-loss
    // and decoding-equivalence tests.) 100 steps: at 60 the heat loss had fallen to 0.55-0.57 of
    // its start on an AMD EPYC (float rounding differs by CPU), still falling steadily.
    const profile = resolveProfile('smoke', { tpl: { width: 0.125, batchPseudo: 3, steps: 100, lr: 5e-3, lrDecaySteps: [] } });
    const { weights, log, test } = await trainOnDots(profile, 5, 1);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const heatFirst = mean(log.slice(0, 5).map((p) => p.parts.heat!));
    const heatLast = mean(log.slice(-5).map((p) => p.parts.heat!));
    const pred = await predictLandmarks({ profile, weights, images: test.map((s) => s.img), landmarkCount: 1 });
    const errors = pred.flatMap((pts, i) => pts.map(([y, x], k) => Math.hypot(y - test[i]!.pts[k]![0], x - test[i]!.pts[k]![1])));
    expect(heatLast).toBeLessThan(0.5 * heatFirst);
    expect(mean(errors)).toBeLessThan(2);
    expect(Math.max(...errors)).toBeLessThan(4);

    // predictLandmarks (native top-K + gathered offsets) = decodeVoting on the full maps.
    expect(pred).toEqual(await fullMapDecode(profile, weights, test.map((s) => s.img), 1));
  });

  it("heatLossNorm 'positives' learns a bright and a dark dot together (K = 2), across data seeds", async () => {
    // The two-dot task the pixel-mean loss does not learn reliably in 60 steps (note above):
    // normalising the heat sum by the disk pixels is what makes the cpu profile's short TPL run work.
    const profile = resolveProfile('smoke', { tpl: { width: 0.125, batchPseudo: 3, steps: 60, lr: 5e-3, lrDecaySteps: [], heatLossNorm: 'positives' } });
    for (const dataSeed of [5, 6]) {
      const { weights, test } = await trainOnDots(profile, dataSeed, 2);
      const pred = await predictLandmarks({ profile, weights, images: test.map((s) => s.img), landmarkCount: 2 });
      for (const k of [0, 1]) {
        const errors = pred.map((pts, i) => Math.hypot(pts[k]![0] - test[i]!.pts[k]![0], pts[k]![1] - test[i]!.pts[k]![1]));
        expect(errors.reduce((a, b) => a + b, 0) / errors.length, `data seed ${dataSeed}, landmark ${k}`).toBeLessThan(3);
      }
    }
  });

  it('predictLandmarks selects tied candidates by lowest index, like decodeVoting', async () => {
    const profile = resolveProfile('smoke');
    const data = dataset(26, 2);
    const t = await createTplTrainer({ ...data, profile, seed: 1 });
    const c = decodeCheckpoint(await t.exportWeights());
    t.dispose();
    // Zero output kernel: every heatmap pixel ties, every offset is 0 → each candidate votes for
    // itself once and the lowest selected index wins; that is cell (0, 0) only if the lowest
    // indices were selected.
    for (const a of c.params) if (a.name === 'final/w') a.data.fill(0);
    const weights = encodeCheckpoint(c);
    const pred = await predictLandmarks({ profile, weights, images: data.images, landmarkCount: 2 });
    expect(pred).toEqual([[[0, 0], [0, 0]], [[0, 0], [0, 0]]]);
    expect(pred).toEqual(await fullMapDecode(profile, weights, data.images, 2));
  });

  it('gives every batch the same offset-head row count although its disk pixels vary (one matmul shape: no per-shape native memory)', () => {
    const profile = resolveProfile('smoke', { tpl: { batchPseudo: 2 } });
    const k = 4;
    const input = { profile, ...dataset(5, 12, profile.inputSize, k), seed: 1 };
    const radius = diskRadius(profile.inputSize, profile.tpl.radiusFraction);
    const batches = tplBatches(input, Prng.fromSeed(3), radius, { epoch: 0, order: [], cursor: 0 });
    const rowCounts = new Set<number>();
    const diskPixels = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const { disk } = batches.next();
      rowCounts.add(disk.rows.length);
      diskPixels.add(new Set(Array.from(disk.entries, (e) => Math.floor(e / (3 * k)))).size);
    }
    expect([...rowCounts]).toEqual([maxDiskRows(3, profile.inputSize, profile.inputSize, radius, k)]);
    // What the padding hides: the distinct disk pixels (the rows before padding) change between batches.
    expect(diskPixels.size).toBeGreaterThan(1);
  });
});
