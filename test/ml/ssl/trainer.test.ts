import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { decodeCheckpoint } from '../../../ml/core/checkpoint';
import { AdamL2 } from '../../../ml/core/adam-l2';
import { Prng } from '../../../ml/core/prng';
import { makeSslBatch, sslSampleConfig } from '../../../ml/data/ssl-sample';
import { resolveProfile } from '../../../ml/profiles';
import { createSslTrainer, SSL_REPEATS, sslLearningRate } from '../../../ml/ssl';
import { epochOrder } from '../../../ml/ssl/trainer';
import { sslLoss } from '../../../ml/ssl/loss';
import { SslNetwork } from '../../../ml/ssl/network';
import type { GrayImage, TrainProgress } from '../../../ml/types';

function syntheticImages(n: number, S: number): GrayImage[] {
  return Array.from({ length: n }, (_, k) => {
    const prng = Prng.fromSeed(100 + k);
    const data = new Float32Array(S * S);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) data[y * S + x] = 0.5 + 0.3 * Math.sin((x + 3 * k) / 5) * Math.cos((y - k) / 7) + 0.1 * prng.next();
    }
    return { height: S, width: S, data };
  });
}

// Smoke shapes; RFB on so the dilated convolutions and their gradients are exercised too.
const profile = resolveProfile('smoke', { ssl: { useRfb: true, steps: 8, batchSize: 2, lrStepEvery: 3 } });
const images = syntheticImages(3, profile.inputSize);

async function weightsOf(t: { exportWeights(): Promise<Uint8Array> }): Promise<Map<string, Float32Array>> {
  return new Map(decodeCheckpoint(await t.exportWeights()).params.map((a) => [a.name, a.data]));
}

describe('ssl trainer', () => {
  it('resumes bit-identically: N straight steps == N/2, checkpoint, new trainer, N/2', async () => {
    const N = 4;
    const straight = await createSslTrainer({ profile, images, seed: 2022 });
    const lossesA: number[] = [];
    await straight.train(N, (p) => lossesA.push(p.loss));

    const first = await createSslTrainer({ profile, images, seed: 2022 });
    const lossesB: number[] = [];
    await first.train(N / 2, (p) => lossesB.push(p.loss));
    const ckpt = await first.checkpoint();
    first.dispose();
    const resumed = await createSslTrainer({ profile, images, seed: 2022, checkpoint: ckpt });
    expect(resumed.step).toBe(N / 2);
    await resumed.train(N / 2, (p) => lossesB.push(p.loss));
    expect(resumed.step).toBe(N);

    expect(lossesB).toEqual(lossesA);
    const wa = await weightsOf(straight);
    const wb = await weightsOf(resumed);
    expect([...wb.keys()]).toEqual([...wa.keys()]);
    let maxDiff = 0;
    for (const [name, a] of wa) {
      const b = wb.get(name)!;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    }
    // Native TF on CPU is deterministic for identical op sequences: demand bit-identical.
    expect(maxDiff).toBe(0);
    // The checkpoint carries optimizer slots, BN buffers and the PRNG state.
    const c = decodeCheckpoint(ckpt);
    expect(c.optimizer.step).toBe(N / 2);
    expect(c.params.some((a) => a.name.endsWith('/mean'))).toBe(true);
    expect(c.prng.every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
    straight.dispose();
    resumed.dispose();
  });

  it('does not leak tensors across steps, reports progress and clamps to totalSteps', async () => {
    const base = tf.memory().numTensors;
    const t = await createSslTrainer({ profile, images, seed: 1 });
    await t.train(1); // burn-in
    const before = tf.memory().numTensors;
    const seen: TrainProgress[] = [];
    await t.train(3, (p) => seen.push(p));
    expect(tf.memory().numTensors).toBe(before);
    expect(seen.map((p) => p.step)).toEqual([2, 3, 4]);
    expect(seen.map((p) => p.lr)).toEqual([1, 2, 3].map((s) => sslLearningRate(profile, s)));
    expect(seen[2]!.lr).toBeCloseTo(profile.ssl.lr * profile.ssl.lrGamma, 12);
    expect(Object.keys(seen[0]!.parts).sort()).toEqual(['level1', 'level2', 'level3', 'level4', 'level5']);
    const partsSum = Object.values(seen[0]!.parts).reduce((a, b) => a + b, 0);
    expect(Math.abs(partsSum - seen[0]!.loss)).toBeLessThan(1e-4);
    const last = await t.train(100);
    expect(last.step).toBe(profile.ssl.steps);
    expect(t.step).toBe(profile.ssl.steps);
    const none = await t.train(5);
    expect(none.step).toBe(profile.ssl.steps);
    t.dispose();
    expect(tf.memory().numTensors).toBe(base);
  });

  it('lets the event loop run between steps (heartbeats)', async () => {
    const t = await createSslTrainer({ profile, images, seed: 3 });
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks += 1;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const ticksAtStep: number[] = [];
    await t.train(3, () => ticksAtStep.push(ticks));
    running = false;
    // Each step boundary let at least one macrotask through.
    expect(ticksAtStep[2]! - ticksAtStep[0]!).toBeGreaterThanOrEqual(2);
    t.dispose();
  });

  it('rejects checkpoints for other data, seeds or architectures, and bad inputs', async () => {
    const t = await createSslTrainer({ profile, images, seed: 5 });
    await t.train(1);
    const ckpt = await t.checkpoint();
    const weights = await t.exportWeights();
    t.dispose();
    await expect(createSslTrainer({ profile, images: syntheticImages(4, 64).slice(1), seed: 5, checkpoint: ckpt })).rejects.toThrow(/different images/);
    await expect(createSslTrainer({ profile, images, seed: 6, checkpoint: ckpt })).rejects.toThrow(/seed/);
    await expect(createSslTrainer({ profile: resolveProfile('smoke', { ssl: { useRfb: false } }), images, seed: 5, checkpoint: ckpt })).rejects.toThrow(/profile gives/);
    await expect(createSslTrainer({ profile, images, seed: 5, checkpoint: weights })).rejects.toThrow(/kind/);
    await expect(createSslTrainer({ profile, images: [], seed: 5 })).rejects.toThrow(/no images/);
    await expect(createSslTrainer({ profile, images: syntheticImages(1, 32), seed: 5 })).rejects.toThrow(/expected 64x64/);
  });

  it('shuffles each epoch deterministically with every image repeated SSL_REPEATS times', () => {
    const a = epochOrder(7, 0, 5);
    expect(a.length).toBe(5 * SSL_REPEATS);
    expect(epochOrder(7, 0, 5)).toEqual(a);
    expect(epochOrder(7, 1, 5)).not.toEqual(a);
    for (let i = 0; i < 5; i++) expect(a.filter((v) => v === i).length).toBe(SSL_REPEATS);
  });

  it('lowers the loss on a fixed batch over a few optimizer steps', () => {
    const net = SslNetwork.create({ width: profile.ssl.width, embedDim: profile.ssl.embedDim, useRfb: true }, Prng.fromSeed(11));
    const opt = new AdamL2(net.params.trainable, { weightDecay: 1e-4 });
    const batch = makeSslBatch(images, [0, 1, 2], Prng.fromSeed(12), sslSampleConfig(64, profile.ssl));
    const names = new Map([...net.params.trainable].map(([n, v]) => [v.name, n]));
    const lossCfg = { temperature: 0.1, window: profile.ssl.window, distanceBias: false };
    const losses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const { value, grads } = tf.variableGrads(() => {
        const eI = net.forward(tf.tensor4d(batch.images, [3, 64, 64, 1]), { training: true });
        const eP = net.forward(tf.tensor4d(batch.patches, [3, 32, 32, 1]), { training: true });
        return sslLoss(eI, eP, batch, lossCfg).total;
      }, [...net.params.trainable.values()]);
      losses.push(value.dataSync()[0]!);
      const byName: Record<string, tf.Tensor> = {};
      for (const [k, g] of Object.entries(grads)) byName[names.get(k)!] = g;
      opt.apply(byName, 1e-3);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(losses[5]!).toBeLessThan(losses[0]!);
    opt.dispose();
    net.dispose();
  });

  it('starts from user-supplied backbone weights when given, and records the initialisation', async () => {
    const scratch = await createSslTrainer({ profile, images, seed: 8 });
    const w0 = decodeCheckpoint(await scratch.exportWeights());
    expect(w0.meta.init).toBe('scratch');
    scratch.dispose();
    const backbone = w0.params.filter((a) => a.name.startsWith('enc/')).map((a) => ({ name: a.name.slice(4), shape: a.shape, data: a.data.map((v) => v * 0.5) }));
    const t = await createSslTrainer({ profile, images, seed: 8, backboneWeights: backbone });
    const w1 = decodeCheckpoint(await t.exportWeights());
    expect(w1.meta.init).toBe('user-backbone');
    const got = new Map(w1.params.map((a) => [a.name, a.data]));
    for (const b of backbone) expect(Array.from(got.get(`enc/${b.name}`)!)).toEqual(Array.from(b.data));
    await t.train(1);
    const resumed = await createSslTrainer({ profile, images, seed: 8, checkpoint: await t.checkpoint() });
    expect(decodeCheckpoint(await resumed.exportWeights()).meta.init).toBe('user-backbone');
    t.dispose();
    resumed.dispose();
    await expect(createSslTrainer({ profile, images, seed: 8, backboneWeights: backbone.slice(1) })).rejects.toThrow(/backbone weights lack/);
  });

  it('stops on a non-finite loss without applying the update, and refuses to checkpoint afterwards', async () => {
    const wild = resolveProfile('smoke', { ssl: { useRfb: false, lr: 1e38, steps: 6 } });
    const t = await createSslTrainer({ profile: wild, images, seed: 4 });
    await expect(t.train(6)).rejects.toThrow(/diverged/);
    await expect(t.checkpoint()).rejects.toThrow(/unusable/);
    t.dispose();
  });
});
