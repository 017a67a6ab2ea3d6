import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { decodeCheckpoint } from '../../../ml/core/checkpoint';
import { Fnv1a } from '../../../ml/core/digest';
import { CHECKPOINT_FORMAT, checkResumeMeta, createTrainer, initTraining, openCheckpoint } from '../../../ml/core/trainer';
import type { CheckpointContent } from '../../../ml/core/checkpoint';

const KIND = 'test-train';

/** One weight vector fitted to a target drawn from the data PRNG each step; `scale` multiplies the loss. */
function tinyTrainer(seed: number, bytes?: Uint8Array, scale = 1) {
  const c: CheckpointContent | undefined = bytes ? openCheckpoint('tiny', bytes, KIND, (m) => checkResumeMeta(m, { seed }, ['digest', 'd1'])) : undefined;
  const state = initTraining(seed, c, 0, (p) => p.heNormal('w', [3], 3));
  const w = state.model;
  return createTrainer({
    name: 'tiny',
    checkpointKind: KIND,
    totalSteps: 6,
    state,
    partNames: ['a', 'b'],
    learningRate: (step) => 0.1 / (step + 1),
    planStep: () => {
      const target = tf.tensor1d([state.dataPrng.next(), state.dataPrng.next(), state.dataPrng.next()]);
      return {
        loss: () => {
          const d = tf.sub(w, target);
          const a = tf.mul(tf.sum(tf.square(d)), scale) as tf.Scalar;
          const b = tf.sum(tf.abs(d)) as tf.Scalar;
          return { total: tf.add(a, b) as tf.Scalar, parts: tf.stack([a, b]) };
        },
        dispose: () => target.dispose(),
      };
    },
    checkpointMeta: () => ({ format: CHECKPOINT_FORMAT, seed, digest: 'd1' }),
    exportWeights: async () => new Uint8Array(((await w.data()) as Float32Array).slice().buffer),
  });
}

describe('trainer skeleton', () => {
  it('counts steps up to totalSteps, names the loss parts, resumes bit-identically and frees every tensor', async () => {
    const start = tf.memory().numTensors;
    const straight = tinyTrainer(1);
    const a: number[] = [];
    await straight.train(4, (p) => a.push(p.loss, p.parts.a!, p.parts.b!));
    const wa = Array.from(await straight.exportWeights());
    const first = tinyTrainer(1);
    const b: number[] = [];
    await first.train(2, (p) => b.push(p.loss, p.parts.a!, p.parts.b!));
    const ckpt = await first.checkpoint();
    first.dispose();
    expect(decodeCheckpoint(ckpt).meta.lastLoss).toBe(b[3]);
    const resumed = tinyTrainer(1, ckpt);
    expect(resumed.step).toBe(2);
    await resumed.train(2, (p) => b.push(p.loss, p.parts.a!, p.parts.b!));
    expect(b).toEqual(a);
    expect(Array.from(await resumed.exportWeights())).toEqual(wa);
    expect((await resumed.train(100)).step).toBe(6);
    expect((await resumed.train(1)).step).toBe(6);
    straight.dispose();
    resumed.dispose();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('refuses checkpoints of another kind, seed or data', async () => {
    const t = tinyTrainer(1);
    await t.train(1);
    const ckpt = await t.checkpoint();
    t.dispose();
    expect(() => tinyTrainer(2, ckpt)).toThrow(/tiny: cannot resume: checkpoint seed = 1, this run has 2/);
    expect(() => openCheckpoint('x', ckpt, 'other', () => undefined)).toThrow(/kind "test-train" is not "other"/);
    expect(() => openCheckpoint('x', ckpt, KIND, (m) => checkResumeMeta(m, {}, ['digest', 'd2']))).toThrow(/other data/);
  });

  it('does not apply a non-finite step, then refuses every further use', async () => {
    const t = tinyTrainer(1, undefined, Number.POSITIVE_INFINITY);
    const before = Array.from(await t.exportWeights());
    await expect(t.train(3)).rejects.toThrow(/tiny: training diverged: loss Infinity at step 1/);
    expect(t.step).toBe(0);
    await expect(t.checkpoint()).rejects.toThrow(/unusable after a failed step/);
    await expect(t.train(1)).rejects.toThrow(/unusable/);
    t.dispose();
    const again = tinyTrainer(1);
    expect(Array.from(await again.exportWeights())).toEqual(before);
    again.dispose();
    await expect(again.train(1)).rejects.toThrow(/after dispose/);
  });

  it('FNV-1a digests words, float bits and images', () => {
    expect(new Fnv1a().digest(0)).toBe('0:811c9dc5');
    expect(new Fnv1a().word(1).digest(1)).toBe(new Fnv1a().word(2 ** 32 + 1).digest(1));
    expect(new Fnv1a().float(1).digest(1)).toBe(new Fnv1a().word(0x3f800000).digest(1));
    const img = { height: 1, width: 2, data: new Float32Array([1, 0]) };
    expect(new Fnv1a().image(img).digest(1)).toBe(new Fnv1a().word(1).word(2).word(0x3f800000).word(0).digest(1));
  });
});
