/**
 * TPL loss (docs/method.md#tpl-training). Shapes (NHWC): N batch, H×W map, K landmarks.
 *
 *   heat = mean over N·H·W·K of  −(1−p)·t·log p − p·(1−t)·log(1−p),  p = clamp(σ(z), 1e−7, 1−1e−7)
 *   L1x  = Σ |ox − tx|·t / Σ t          (only disk pixels count; t is the binary heatmap target)
 *   L1y  = Σ |oy − ty|·t / Σ t
 *   total = L1x + L1y + λ·heat          (λ = heatLossWeight, 2 for the head dataset)
 *
 * When no disk pixel exists in the batch (Σ t = 0) the reference divides by zero; here the
 * offset terms are 0 instead (the denominator is max(Σ t, 1)).
 *
 * `heatNorm = 'positives'` (not in the reference) divides the heat sum by max(Σ t, 1) instead of
 * the element count, as CenterNet's focal loss does. With disks covering < 1 % of the map, the
 * pixel mean makes the heat gradient ~100× smaller than the offsets' and a short run leaves the
 * heatmap head untrained (measured, see README); the paper profile keeps 'pixels'.
 *
 * An optional 0/1 channel weight (focalHeatLoss) leaves (image, landmark) channels out: the mean
 * is then over the weighted elements, and 'positives' divides by max(Σ t·w, 1).
 */
import * as tf from '@tensorflow/tfjs';
import { HEAT_LOSS_NORMS, type HeatLossNorm } from '../types';
import { gatherRows, unaryCustomGrad } from './fast-ops';

export const PROB_EPS = 1e-7;


export interface TplTargets {
  /** Binary disks, [N, H, W, K]. */
  heat: tf.Tensor4D;
  /** (l_x − p_x)/R inside the disks, 0 outside, [N, H, W, K]. */
  offsetX: tf.Tensor4D;
  /** (l_y − p_y)/R inside the disks, 0 outside, [N, H, W, K]. */
  offsetY: tf.Tensor4D;
}

export interface TplOutputs {
  /** Heatmap logits z (p = σ(z)), [N, H, W, K]. */
  heatLogits: tf.Tensor4D;
  offsetX: tf.Tensor4D;
  offsetY: tf.Tensor4D;
}

export interface TplLoss {
  total: tf.Scalar;
  heat: tf.Scalar;
  l1x: tf.Scalar;
  l1y: tf.Scalar;
}

function sameShape(what: string, a: tf.Tensor, b: tf.Tensor): void {
  if (a.shape.join('x') !== b.shape.join('x')) {
    throw new Error(`tplLoss: ${what} shapes differ: prediction ${a.shape.join('x')} vs target ${b.shape.join('x')}`);
  }
}

/**
 * Focal-weighted BCE of the reference, summed and divided by n: the element count ('pixels',
 * the reference) or max(Σ t, 1) ('positives'). Hand-written gradient
 * (tfjs's generic one costs ~3× more kernels): with p = clamp(σ(z)),
 *   ∂L/∂z = [t·(p(1−p)·log p − (1−p)²) + (1−t)·(p² − p(1−p)·log(1−p))] · [ε ≤ σ(z) ≤ 1−ε] / n
 * (the clamp passes no gradient outside its range, as in PyTorch). `target` gets no gradient.
 * `weight` (0 or 1, broadcast to the logits, e.g. [N, 1, 1, K]) multiplies each element's loss
 * and gradient: a (image, landmark) channel of weight 0 teaches nothing, neither where its disk
 * would be nor elsewhere; both norms then count the weighted elements only.
 */
export function focalHeatLoss(heatLogits: tf.Tensor, target: tf.Tensor, norm: HeatLossNorm = 'pixels', weight?: tf.Tensor): tf.Scalar {
  sameShape('heatmap', heatLogits, target);
  if (!HEAT_LOSS_NORMS.includes(norm)) throw new Error(`focalHeatLoss: norm must be 'pixels' or 'positives', got ${String(norm)}`);
  if (weight && (weight.rank !== heatLogits.rank || weight.shape.some((d, i) => d !== 1 && d !== heatLogits.shape[i]))) {
    throw new Error(`focalHeatLoss: weight shape ${weight.shape.join('x')} does not broadcast to ${heatLogits.shape.join('x')}`);
  }
  const f = unaryCustomGrad((z, save) => {
    const raw = tf.sigmoid(z);
    const p = tf.clipByValue(raw, PROB_EPS, 1 - PROB_EPS);
    const q = tf.sub(1, p);
    const logP = tf.log(p);
    const logQ = tf.log(q);
    // 'pixels' with a weight: the mean over the weighted elements (0/1 weights: the kept channels).
    const denom = norm === 'positives' ? tf.maximum(tf.sum(weight ? tf.mul(target, weight) : target), 1)
      : weight ? tf.maximum(tf.mul(tf.sum(weight), z.size / weight.size), 1) : tf.scalar(z.size);
    const elems = tf.add(tf.mul(tf.mul(q, target), logP), tf.mul(tf.mul(p, tf.sub(1, target)), logQ));
    const loss = tf.neg(tf.div(tf.sum(weight ? tf.mul(elems, weight) : elems), denom));
    save([raw, p, q, logP, logQ, target, denom, ...(weight ? [weight] : [])]);
    return {
      value: loss,
      gradFunc: (dy, saved) => {
        const [rawS, pS, qS, logPS, logQS, tS, denomS, weightS] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
        const pq = tf.mul(pS, qS);
        const dPos = tf.sub(tf.mul(pq, logPS), tf.square(qS));
        const dNeg = tf.sub(tf.square(pS), tf.mul(pq, logQS));
        const d = tf.add(tf.mul(tS, tf.sub(dPos, dNeg)), dNeg);
        const inRange = tf.logicalAnd(tf.greaterEqual(rawS, PROB_EPS), tf.lessEqual(rawS, 1 - PROB_EPS));
        const scale = tf.div(dy, denomS);
        const g = tf.mul(d, scale);
        return tf.where(inRange, weightS ? tf.mul(g, weightS) : g, tf.zerosLike(d));
      },
    };
  });
  return f(heatLogits) as tf.Scalar;
}

/**
 * Σ |pred − target|·mask / max(Σ mask, 1). Hand-written gradient sign(pred − target)·mask /
 * max(Σ mask, 1) (tfjs's abs gradient goes through the composite `Step` kernel). Only `pred`
 * gets a gradient.
 */
export function maskedL1(pred: tf.Tensor, target: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  sameShape('offset', pred, target);
  sameShape('mask', pred, mask);
  const f = unaryCustomGrad((x, save) => {
    const diff = tf.sub(x, target);
    const denom = tf.maximum(tf.sum(mask), 1);
    save([diff, denom, mask]);
    return {
      value: tf.div(tf.sum(tf.mul(tf.abs(diff), mask)), denom),
      gradFunc: (dy, saved) => {
        const [diffS, denomS, maskS] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.mul(tf.mul(tf.sign(diffS), maskS), tf.div(dy, denomS));
      },
    };
  });
  return f(pred) as tf.Scalar;
}

/** The total loss and its parts; the caller owns the four returned scalars. */
export function tplLoss(out: TplOutputs, t: TplTargets, heatLossWeight: number, heatNorm: HeatLossNorm = 'pixels'): TplLoss {
  if (!(heatLossWeight >= 0)) throw new Error(`tplLoss: heatLossWeight must be >= 0, got ${heatLossWeight}`);
  const heat = focalHeatLoss(out.heatLogits, t.heat, heatNorm);
  const l1x = maskedL1(out.offsetX, t.offsetX, t.heat);
  const l1y = maskedL1(out.offsetY, t.offsetY, t.heat);
  const total = tf.tidy(() => tf.add(tf.add(l1x, l1y), tf.mul(heat, heatLossWeight)) as tf.Scalar);
  return { total, heat, l1x, l1y };
}

/** Offset targets at the disk pixels only (tensors of `encodeDiskEntries`' arrays). */
export interface DiskOffsetTargets {
  /** int32 [M]: index u·3K + K + k of each disk entry's x-offset in the flattened [rows, 3K] head output. */
  entries: tf.Tensor1D;
  /** [M] targets (l_x − p_x)/R. */
  offsetX: tf.Tensor1D;
  /** [M] targets (l_y − p_y)/R. */
  offsetY: tf.Tensor1D;
}

/**
 * The same loss as `tplLoss`, with the offsets given only at the disk pixels: `headRows` is the
 * [rows, 3K] output at the pixels of `encodeDiskEntries(...).rows` (see tplHeadAtRows). The
 * offset terms only ever see disk pixels, so value and gradients equal the dense form (tested);
 * it skips the offset heads' full-resolution maps, which cost ~2/3 of the head and loss work.
 * `heatWeight`: see focalHeatLoss (the disk entries of a weight-0 channel are left out by the caller).
 */
export function tplLossSparse(
  heatLogits: tf.Tensor4D, heatTarget: tf.Tensor4D, headRows: tf.Tensor2D, t: DiskOffsetTargets, heatLossWeight: number, heatNorm: HeatLossNorm = 'pixels',
  heatWeight?: tf.Tensor4D,
): TplLoss {
  if (!(heatLossWeight >= 0)) throw new Error(`tplLoss: heatLossWeight must be >= 0, got ${heatLossWeight}`);
  const k = heatLogits.shape[3];
  if (headRows.shape[1] !== 3 * k) throw new Error(`tplLossSparse: head rows have ${headRows.shape[1]} channels, expected 3·K = ${3 * k}`);
  const heat = focalHeatLoss(heatLogits, heatTarget, heatNorm, heatWeight);
  const [l1x, l1y] = tf.tidy(() => {
    const flat = tf.reshape(headRows, [-1]);
    const ox = gatherRows(flat, t.entries);
    const oy = gatherRows(flat, tf.add(t.entries, tf.scalar(k, 'int32')) as tf.Tensor1D);
    // maskedL1 with an all-ones mask: Σ|d| / M with sign(0) = 0 in the gradient, as PyTorch
    // (tfjs's own abs gradient is −1 at 0, which happens when a ReLU'd feature row is all 0).
    const ones = tf.onesLike(ox);
    return [maskedL1(ox, t.offsetX, ones), maskedL1(oy, t.offsetY, ones)];
  });
  const total = tf.tidy(() => tf.add(tf.add(l1x, l1y), tf.mul(heat, heatLossWeight)) as tf.Scalar);
  return { total, heat, l1x, l1y };
}
