import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { instanceNorm, relu as reluFast } from '../../../ml/core/layers';
import { instanceNormRelu } from '../../../ml/tpl/fast-ops';
import { focalHeatLoss, maskedL1, PROB_EPS } from '../../../ml/tpl/loss';

/** Max |a − b| over two same-shape tensors. */
function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** Gradient of sum(f(x)·w) w.r.t. x, for a fixed random weighting w. */
function gradOf(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), w)))(x);
}

describe('hand-written gradients match tfjs autodiff of the plain ops', () => {
  it('reluFast: same value and gradient as tf.relu', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 5, 7, 3], 0, 1, 'float32', 1);
      const w = tf.randomNormal([2, 5, 7, 3], 0, 1, 'float32', 2);
      expect(maxDiff(reluFast(x), tf.relu(x))).toBe(0);
      expect(maxDiff(gradOf(reluFast, x, w), gradOf(tf.relu, x, w))).toBeLessThan(1e-6);
    });
  });

  it('instanceNormRelu: same value and gradient as relu(instanceNorm) of ml/core (non-square maps)', () => {
    tf.tidy(() => {
      const x = tf.add(tf.mul(tf.randomNormal([3, 6, 9, 4], 0, 1, 'float32', 3), 2.5), 0.7) as tf.Tensor4D;
      const w = tf.randomNormal([3, 6, 9, 4], 0, 1, 'float32', 4);
      const ref = (v: tf.Tensor) => tf.relu(instanceNorm(v as tf.Tensor4D));
      const mine = (v: tf.Tensor) => instanceNormRelu(v as tf.Tensor4D);
      expect(maxDiff(mine(x), ref(x))).toBeLessThan(1e-5);
      const gRef = gradOf(ref, x, w);
      const scale = tf.max(tf.abs(gRef)).dataSync()[0]!;
      expect(maxDiff(gradOf(mine, x, w), gRef) / scale).toBeLessThan(1e-4);
    });
  });

  it('focalHeatLoss: gradient equals autodiff of the reference formula, including clamped logits', () => {
    tf.tidy(() => {
      // Logits spread so that some saturate the clamp (|z| > 16.2), binary and soft targets.
      const z = tf.concat([tf.mul(tf.randomNormal([40], 0, 1, 'float32', 5), 4), tf.tensor1d([-30, -17, 17, 30, 0])]);
      for (const t of [tf.cast(tf.greater(tf.randomUniform([45], 0, 1, 'float32', 6), 0.7), 'float32'), tf.randomUniform([45], 0, 1, 'float32', 7)]) {
        const ref = (v: tf.Tensor) => {
          const p = tf.clipByValue(tf.sigmoid(v), PROB_EPS, 1 - PROB_EPS);
          const q = tf.sub(1, p);
          return tf.neg(tf.mean(tf.add(tf.mul(tf.mul(q, t), tf.log(p)), tf.mul(tf.mul(p, tf.sub(1, t)), tf.log(q)))));
        };
        const mine = (v: tf.Tensor) => focalHeatLoss(v, t);
        expect(Math.abs(mine(z).dataSync()[0]! - ref(z).dataSync()[0]!)).toBeLessThan(1e-6);
        const gRef = tf.grad(ref)(z);
        const g = tf.grad(mine)(z);
        expect(maxDiff(g, gRef)).toBeLessThan(1e-6);
        // Saturated logits pass no gradient (PyTorch clamp semantics).
        expect(Array.from(g.dataSync().slice(40, 44))).toEqual([0, 0, 0, 0]);
        // Normalised by the positives: the same sum over Σ t instead of the element count.
        const positives = t.sum().dataSync()[0]!;
        const refPos = (v: tf.Tensor) => tf.mul(ref(v), z.size / positives);
        const minePos = (v: tf.Tensor) => focalHeatLoss(v, t, 'positives');
        expect(Math.abs(minePos(z).dataSync()[0]! - refPos(z).dataSync()[0]!)).toBeLessThan(1e-5);
        expect(maxDiff(tf.grad(minePos)(z), tf.grad(refPos)(z))).toBeLessThan(1e-6);
      }
    });
  });

  it('focalHeatLoss with a channel weight: the loss of the kept channels alone, and no gradient in the left-out ones', () => {
    tf.tidy(() => {
      // [N=2, H=3, W=4, K=3]; left out: image 0 landmark 1, image 1 landmark 0.
      const z = tf.mul(tf.randomNormal([2, 3, 4, 3], 0, 1, 'float32', 11), 3);
      const t = tf.cast(tf.greater(tf.randomUniform([2, 3, 4, 3], 0, 1, 'float32', 12), 0.8), 'float32');
      const weight = tf.tensor4d([1, 0, 1, 0, 1, 1], [2, 1, 1, 3]);
      // The kept channels as a flat list: the unweighted loss of exactly those elements.
      const keep = (v: tf.Tensor) => tf.concat([
        tf.reshape(tf.gather(tf.slice(v, [0, 0, 0, 0], [1, 3, 4, 3]), [0, 2], 3), [-1]),
        tf.reshape(tf.gather(tf.slice(v, [1, 0, 0, 0], [1, 3, 4, 3]), [1, 2], 3), [-1]),
      ]);
      const kt = keep(t);
      for (const norm of ['pixels', 'positives'] as const) {
        const mine = (v: tf.Tensor) => focalHeatLoss(v, t, norm, weight);
        const ref = (v: tf.Tensor) => focalHeatLoss(keep(v), kt, norm);
        expect(Math.abs(mine(z).dataSync()[0]! - ref(z).dataSync()[0]!), norm).toBeLessThan(1e-6);
        const g = tf.grad(mine)(z);
        expect(maxDiff(g, tf.grad(ref)(z)), norm).toBeLessThan(1e-7);
        expect(tf.sum(tf.abs(tf.mul(g, tf.sub(1, weight)))).dataSync()[0], norm).toBe(0);
        expect(tf.sum(tf.abs(tf.mul(g, weight))).dataSync()[0], norm).toBeGreaterThan(0);
      }
      expect(() => focalHeatLoss(z, t, 'pixels', tf.ones([2, 1, 1, 2]))).toThrow(/weight shape 2x1x1x2 does not broadcast to 2x3x4x3/);
    });
  });

  it('maskedL1: gradient equals autodiff of Σ|d|·m / Σm', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([4, 6], 0, 1, 'float32', 8);
      const t = tf.randomNormal([4, 6], 0, 1, 'float32', 9);
      const m = tf.cast(tf.greater(tf.randomUniform([4, 6], 0, 1, 'float32', 10), 0.5), 'float32');
      const ref = (v: tf.Tensor) => tf.div(tf.sum(tf.mul(tf.abs(tf.sub(v, t)), m)), tf.sum(m));
      expect(Math.abs(maskedL1(x, t, m).dataSync()[0]! - ref(x).dataSync()[0]!)).toBeLessThan(1e-6);
      expect(maxDiff(tf.grad((v: tf.Tensor) => maskedL1(v, t, m))(x), tf.grad(ref)(x))).toBeLessThan(1e-6);
    });
  });
});
