import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from '../../../ml/core/params';
import { Prng } from '../../../ml/core/prng';
import { createRefinePredictor, createRefineTrainer, refineLearningRate, RefineProfileSchema, rescalePoint, type RefineProfile } from '../../../ml/refine';
import { defineRefineNetwork, refineLogits } from '../../../ml/refine/network';
import { cutPatch, decodePatch, patchOrigin, writeTarget } from '../../../ml/refine/patches';
import type { GrayImage, PointYX } from '../../../ml/types';

const BASE: RefineProfile = RefineProfileSchema.parse({
  inputSize: 48, patch: 16, channels: 4, landmarkMode: 'shared', batch: 8, steps: 10,
  lr: 1e-3, lrDecaySteps: [8], lrGamma: 0.1, weightDecay: 1e-4, jitter: 4, sigma: 1, passes: 1, checkpointEvery: 5,
});

/** Gray images with a bright dot at landmark 0 and a dark dot at landmark 1. */
function dots(seed: number, n: number, size = 48): { images: GrayImage[]; labels: PointYX[][] } {
  const prng = Prng.fromSeed(seed);
  const images: GrayImage[] = [];
  const labels: PointYX[][] = [];
  for (let i = 0; i < n; i++) {
    const pts = [0, 1].map(() => [8 + prng.int(size - 16), 8 + prng.int(size - 16)] as PointYX);
    const data = new Float32Array(size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let v = 0.5;
        pts.forEach(([py, px], j) => { v += (j === 0 ? 0.5 : -0.5) * Math.exp(-((y - py) ** 2 + (x - px) ** 2) / 4); });
        data[y * size + x] = v;
      }
    }
    images.push({ height: size, width: size, data });
    labels.push(pts);
  }
  return { images, labels };
}

function input(refine: RefineProfile, seed = 1) {
  const { images, labels } = dots(7, 6, refine.inputSize);
  return { refine, images: images.slice(1), labels: labels.slice(1), template: images[0]!, templateLandmarks: labels[0]!, seed };
}

describe('refine geometry', () => {
  it('rescales cell-index points between grids through the cell centres', () => {
    expect(rescalePoint([0, 10], 192, 384)).toEqual([0.5, 20.5]);
    expect(rescalePoint(rescalePoint([3.25, 7], 192, 768), 768, 192)).toEqual([3.25, 7]);
  });

  it('cuts patches with zeros outside the image, and decodes a Gaussian target back to its centre', () => {
    const img: GrayImage = { height: 4, width: 4, data: Float32Array.from({ length: 16 }, (_v, i) => i + 1) };
    const out = new Float32Array(16);
    cutPatch(img, patchOrigin([0, 3], 4), 4, out, 0);
    expect(patchOrigin([0, 3], 4)).toEqual([-2, 1]);
    expect([...out]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 4, 0, 6, 7, 8, 0]);
    const t = new Float32Array(2 * 256);
    writeTarget([5.3, 9.6], 16, 1.2, t, 256);
    expect(t.slice(256).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const [y, x] = decodePatch(t, 256, 16);
    // The (2r+1)² window truncates the Gaussian's tails: a small pull towards the arg-max pixel.
    expect(Math.abs(y - 5.3)).toBeLessThan(0.1);
    expect(Math.abs(x - 9.6)).toBeLessThan(0.1);
  });

  it('network: [N, P, P, 1] → [N, P·P] logits in both landmark modes', () => {
    for (const landmarkMode of ['shared', 'heads'] as const) {
      const p = new ParamStore(Prng.fromSeed(1));
      const cfg = { channels: 4, landmarkCount: 3, landmarkMode };
      defineRefineNetwork(p, cfg);
      const out = tf.tidy(() => refineLogits(p, cfg, tf.zeros([2, 16, 16, 1]) as tf.Tensor4D, tf.tensor1d([0, 2], 'int32')));
      expect(out.shape).toEqual([2, 256]);
      out.dispose();
      p.dispose();
    }
  });
});

describe('refine trainer', () => {
  it('lr: multiplied by gamma at each decay step', () => {
    expect(refineLearningRate(BASE, 7)).toBe(1e-3);
    expect(refineLearningRate(BASE, 8)).toBeCloseTo(1e-4, 12);
  });

  it('N steps straight = N/2 + checkpoint + resume + N/2 (same weights), and refuses other data', async () => {
    const straight = await createRefineTrainer(input(BASE));
    await straight.train(6);
    const a = await straight.exportWeights();
    straight.dispose();
    const first = await createRefineTrainer(input(BASE));
    await first.train(3);
    const ck = await first.checkpoint();
    first.dispose();
    const second = await createRefineTrainer({ ...input(BASE), checkpoint: ck });
    expect(second.step).toBe(3);
    await second.train(3);
    expect(Buffer.from(await second.exportWeights()).equals(Buffer.from(a))).toBe(true);
    second.dispose();
    const before = tf.memory().numTensors;
    const other = input(BASE);
    await expect(createRefineTrainer({ ...other, labels: other.labels.map((pts) => pts.map(([y, x]) => [y + 1, x] as PointYX)), checkpoint: ck })).rejects.toThrow(/other data/);
    await expect(createRefineTrainer({ ...other, refine: { ...BASE, landmarkMode: 'heads' }, checkpoint: ck })).rejects.toThrow(/landmarkMode/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('validates its inputs with messages naming the field', async () => {
    const ok = input(BASE);
    await expect(createRefineTrainer({ ...ok, refine: { ...BASE, jitter: 7 } })).rejects.toThrow(/jitter 7 must be at most/);
    await expect(createRefineTrainer({ ...ok, labels: ok.labels.slice(1) })).rejects.toThrow(/5 images but 4 label lists/);
    await expect(createRefineTrainer({ ...ok, template: { height: 8, width: 8, data: new Float32Array(64) } })).rejects.toThrow(/template is 8×8, expected 48×48/);
    expect(() => RefineProfileSchema.parse({ ...BASE, patch: 20 })).toThrow(/multiple of 8/);
  });

  it('labelMask: an untrusted label never reaches training, the mask is part of the data a checkpoint resumes on, and its shape is checked', async () => {
    const ok = input(BASE, 5);
    // Images 2.. get two different sets of wrong labels; images 0-1 and the template stay right.
    const wrongBy = (to: PointYX) => ({ ...ok, labels: ok.labels.map((pts, i) => (i < 2 ? pts : pts.map(() => to))) });
    const labelMask = ok.labels.map((pts, i) => pts.map(() => i < 2));
    const weightsOf = async (trainInput: Parameters<typeof createRefineTrainer>[0]) => {
      const t = await createRefineTrainer(trainInput);
      await t.train(6);
      const w = Buffer.from(await t.exportWeights());
      t.dispose();
      return w;
    };
    // Masked, the wrong labels' values cannot matter; unmasked (the control) they do.
    expect((await weightsOf({ ...wrongBy([24, 24]), labelMask })).equals(await weightsOf({ ...wrongBy([10, 30]), labelMask }))).toBe(true);
    expect((await weightsOf(wrongBy([24, 24]))).equals(await weightsOf(wrongBy([10, 30])))).toBe(false);

    const t = await createRefineTrainer({ ...ok, labelMask });
    await t.train(2);
    const ck = await t.checkpoint();
    t.dispose();
    await expect(createRefineTrainer({ ...ok, checkpoint: ck })).rejects.toThrow(/other data/);
    await expect(createRefineTrainer({ ...ok, labelMask: labelMask.slice(1) })).rejects.toThrow(/labelMask has 4 rows, expected 5/);
    await expect(createRefineTrainer({ ...ok, labelMask: labelMask.map((row, i) => (i === 2 ? row.slice(1) : row)) })).rejects.toThrow(/labelMask\[2\] has 1 entries, expected K = 2/);
  });

  it('does not leak tensors across training steps or refinement, and frees the event loop between steps', async () => {
    const start = tf.memory().numTensors;
    const t = await createRefineTrainer(input(BASE, 3));
    await t.train(1);
    const afterBurnIn = tf.memory().numTensors;
    const counts: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    await t.train(4, () => counts.push(tf.memory().numTensors));
    clearInterval(timer);
    expect(counts).toEqual([afterBurnIn, afterBurnIn, afterBurnIn, afterBurnIn]);
    expect(ticks).toBeGreaterThanOrEqual(3);
    await t.checkpoint();
    const weights = await t.exportWeights();
    expect(tf.memory().numTensors).toBe(afterBurnIn);
    t.dispose();
    expect(tf.memory().numTensors).toBe(start);

    const { images, labels } = input(BASE);
    const predictor = createRefinePredictor({ refine: { ...BASE, passes: 2 }, weights, landmarkCount: 2 });
    const loaded = tf.memory().numTensors;
    const out = await predictor.refine(images, labels);
    expect(out).toHaveLength(images.length);
    expect(await predictor.refine(images, labels)).toEqual(out);
    expect(tf.memory().numTensors).toBe(loaded);
    predictor.dispose();
    expect(tf.memory().numTensors).toBe(start);
    expect(() => createRefinePredictor({ refine: { ...BASE, channels: 8 }, weights, landmarkCount: 2 })).toThrow(/channels = 4, the settings say 8/);
  });

  it('learns to point back to a dot from a displaced start (K = 2, both modes)', async () => {
    for (const landmarkMode of ['shared', 'heads'] as const) {
      const refine = { ...BASE, landmarkMode, steps: 150, lrDecaySteps: [120], lr: 3e-3, batch: 16 };
      const t = await createRefineTrainer(input(refine, 5));
      await t.train(refine.steps);
      const weights = await t.exportWeights();
      t.dispose();
      const { images, labels } = dots(99, 4, refine.inputSize);
      const start = labels.map((pts) => pts.map(([y, x]) => [y + 3, x - 3] as PointYX));
      const predictor = createRefinePredictor({ refine, weights, landmarkCount: 2 });
      const out = await predictor.refine(images, start);
      predictor.dispose();
      const err = out.flatMap((pts, i) => pts.map((p, j) => Math.hypot(p[0] - labels[i]![j]![0], p[1] - labels[i]![j]![1])));
      const before = Math.hypot(3, 3);
      expect(err.reduce((a, b) => a + b, 0) / err.length).toBeLessThan(before / 2);
      // maxMove: the same weights with a limit between the shortest and the longest move keep the
      // start of every landmark that moved farther, and move the others as without the limit.
      const moves = out.flatMap((pts, i) => pts.map((p, j) => Math.hypot(p[0] - start[i]![j]![0], p[1] - start[i]![j]![1])));
      const limit = (Math.min(...moves) + Math.max(...moves)) / 2;
      const limited = createRefinePredictor({ refine: { ...refine, maxMove: limit }, weights, landmarkCount: 2 });
      const outLimited = await limited.refine(images, start);
      limited.dispose();
      const kept = moves.filter((m) => m > limit).length;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(moves.length);
      outLimited.forEach((pts, i) => pts.forEach((p, j) => expect(p).toEqual(moves[i * 2 + j]! > limit ? start[i]![j] : out[i]![j])));
      // With two passes the move is measured from the first pass's start, not from the second's.
      const twoPasses = async (maxMove?: number) => {
        const p2 = createRefinePredictor({ refine: { ...refine, passes: 2, ...(maxMove !== undefined ? { maxMove } : {}) }, weights, landmarkCount: 2 });
        try {
          return await p2.refine(images, start);
        } finally {
          p2.dispose();
        }
      };
      const out2 = await twoPasses();
      const moves2 = out2.flatMap((pts, i) => pts.map((p, j) => Math.hypot(p[0] - start[i]![j]![0], p[1] - start[i]![j]![1])));
      const limit2 = (Math.min(...moves2) + Math.max(...moves2)) / 2;
      const out2Limited = await twoPasses(limit2);
      expect(moves2.some((m) => m > limit2)).toBe(true);
      out2Limited.forEach((pts, i) => pts.forEach((p, j) => expect(p).toEqual(moves2[i * 2 + j]! > limit2 ? start[i]![j] : out2[i]![j])));
    }
  }, 120_000);
});
