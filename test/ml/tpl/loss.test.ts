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

  it("heatNorm 'positives' divides the same sum by the disk pixels (summed over landmarks and batch), not the element count", () => {
    tf.tidy(() => {
      // p = σ(z) = [0.5, 0.75, 0.5, 0.5]; t = [1, 0, 1, 0]: sum = 0.5·ln 2 + 0.75·ln 4 + 0.5·ln 2 + 0.5·ln 2 = 3·ln 2.
      const z = t4([0, Math.log(3), 0, 0], [2, 1, 2, 1]);
      const t = t4([1, 0, 1, 0], [2, 1, 2, 1]);
      expect(val(focalHeatLoss(z, t, 'pixels'))).toBeCloseTo((3 * Math.LN2) / 4, 6);
      expect(val(focalHeatLoss(z, t, 'positives'))).toBeCloseTo((3 * Math.LN2) / 2, 6);
      // No disk pixel: divide by 1 (the negatives still cost something), never NaN.
      expect(val(focalHeatLoss(z, tf.zerosLike(t), 'positives'))).toBeCloseTo(0.5 * Math.LN2 + 0.75 * Math.log(4) + Math.LN2, 6);
      const l = tplLoss({ heatLogits: z, offsetX: tf.zerosLike(z) as tf.Tensor4D, offsetY: tf.zerosLike(z) as tf.Tensor4D }, { heat: t, offsetX: tf.zerosLike(t) as tf.Tensor4D, offsetY: tf.zerosLike(t) as tf.Tensor4D }, 2, 'positives');
      expect(val(l.total)).toBeCloseTo(3 * Math.LN2, 6);
    });
  });

  it('rejects an unknown heat normalisation by name', () => {
    expect(() => focalHeatLoss(tf.zeros([1, 2]), tf.zeros([1, 2]), 'mean' as never)).toThrow(/norm must be 'pixels' or 'positives', got mean/);
  });

  it('rejects mismatched shapes, naming both', () => {
    expect(() => focalHeatLoss(tf.zeros([1, 2, 2, 1]), tf.zeros([1, 2, 2, 2]))).toThrow(/1x2x2x1 vs target 1x2x2x2/);
  });
});
