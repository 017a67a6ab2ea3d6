import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { focalHeatLoss, maskedL1, tplLoss } from '../../../ml/tpl/loss';

const t4 = (v: number[], shape: [number, number, number, number]) => tf.tensor4d(v, shape);
const val = (s: tf.Scalar) => s.dataSync()[0]!;

describe('TPL loss, hand-computed', () => {
  it('1×1×2×1 map: heat = ln 2, L1x = 0.25, L1y = 1, total = 1.25 + 2·ln 2', () => {
    tf.tidy(() => {
      const shape: [number, number, number, number] = [1, 1, 2, 1];
      // p = σ(z) = [0.5, 0.75]; t = [1, 0].
      // heat = mean(0.5·ln 2, 0.75·ln 4) = (0.5 + 1.5)·ln 2 / 2 = ln 2.
      const out = { heatLogits: t4([0, Math.log(3)], shape), offsetX: t4([0.5, 9], shape), offsetY: t4([-0.5, 3], shape) };
      const tgt = { heat: t4([1, 0], shape), offsetX: t4([0.25, 0], shape), offsetY: t4([0.5, 0], shape) };
      const l = tplLoss(out, tgt, 2);
      expect(val(l.heat)).toBeCloseTo(Math.LN2, 6);
      expect(val(l.l1x)).toBeCloseTo(0.25, 6); // the 9 outside the disk does not count
      expect(val(l.l1y)).toBeCloseTo(1, 6);
      expect(val(l.total)).toBeCloseTo(1.25 + 2 * Math.LN2, 6);
    });
  });

  it('L1 divides by the number of disk pixels (summed over landmarks and batch)', () => {
    tf.tidy(() => {
      // Two images, one landmark each; disk pixels: 2 in image 0, 1 in image 1 → divide by 3.
      const shape: [number, number, number, number] = [2, 1, 3, 1];
      const pred = t4([0.2, -0.4, 7, 0, 0, 0.3], shape);
      const tgt = t4([0, 0, 0, 0, 0, -0.6], shape);
      const mask = t4([1, 1, 0, 0, 0, 1], shape);
      expect(val(maskedL1(pred, tgt, mask))).toBeCloseTo((0.2 + 0.4 + 0.9) / 3, 6);
      // No disk pixel at all: 0, not NaN.
      expect(val(maskedL1(pred, tgt, tf.zerosLike(mask)))).toBe(0);
    });
  });

  it('clamps p to [1e−7, 1 − 1e−7] (float32) like the reference', () => {
    tf.tidy(() => {
      // z = 30, t = 0 → p = 1 − 1e−7 in float32 = 1 − 2^−23 → −p·log(1 − p) = (1 − 2^−23)·23·ln 2.
      const want = (1 - 2 ** -23) * 23 * Math.LN2;
      expect(val(focalHeatLoss(tf.tensor1d([30]), tf.tensor1d([0])))).toBeCloseTo(want, 3);
      // z = −30, t = 1 → p = 1e−7 → −(1 − p)·log p ≈ 16.118.
      expect(val(focalHeatLoss(tf.tensor1d([-30]), tf.tensor1d([1])))).toBeCloseTo(-(1 - 1e-7) * Math.log(Math.fround(1e-7)), 3);
      // Perfect, confident predictions cost almost nothing.
      expect(val(focalHeatLoss(tf.tensor1d([-30, 30]), tf.tensor1d([0, 1])))).toBeLessThan(1e-5);
    });
  });

  it('rejects mismatched shapes, naming both', () => {
    expect(() => focalHeatLoss(tf.zeros([1, 2, 2, 1]), tf.zeros([1, 2, 2, 2]))).toThrow(/1x2x2x1 vs target 1x2x2x2/);
  });
});
