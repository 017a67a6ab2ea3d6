/**
 * Stage-I loss (docs/method.md#ssl-loss). Per level k = 5..1 (stride 2^k):
 *   a = patch map at (yp >> k, xp >> k)           (anchor embedding, [B, L])
 *   c(p) = ⟨a, e(p)⟩ / (‖a‖·‖e(p)‖ + 1e-3)          (over every cell p of the image map)
 *   z(p) = c(p)/τ [+ min(0.07·d(p, g), 0.8)/τ]     (optional CC2Dv2 distance bias)
 *   loss_k = mean over the batch of −log softmax_R(z)[g],  g = (yi >> k, xi >> k)
 * where the region R is the whole map at level 5 and, at levels 4..1, the `window`×`window`
 * cells [g − ⌊w/2⌋, g − ⌊w/2⌋ + w) clipped at the borders. Regions are additive masks (−1e4
 * outside), so the whole batch is one op chain per level. Total = Σ_k loss_k.
 */
import * as tf from '@tensorflow/tfjs';
import type { SslEmbeddingMaps } from './network';

export interface SslLossConfig {
  temperature: number;
  /** Window side at levels 1–4. */
  window: number;
  distanceBias: boolean;
}

/** Anchor cells at full resolution, [y, x] per sample (typed arrays of length 2B). */
export interface SslLossTargets {
  patchYX: Int32Array;
  imageYX: Int32Array;
}

export const COSINE_EPS = 1e-3;
const MASK_PENALTY = 1e4;
const BIAS_SLOPE = 0.07;
const BIAS_CAP = 0.8;

export interface SslLossResult {
  total: tf.Scalar;
  /** Loss of each level, indexed by level − 1 (levels 1..5). */
  perLevel: tf.Scalar[];
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * One level's constant inputs: flat anchor indices into the patch map, a one-hot of g and the
 * additive logit offsets (region mask + optional distance bias), built on the JS side.
 */
export function levelTargets(
  level: number, batch: number, imageHW: [number, number], patchHW: [number, number], t: SslLossTargets, cfg: SslLossConfig,
): { anchorIndex: Int32Array; positive: Float32Array; offsets: Float32Array } {
  const [H, W] = imageHW;
  const [h, w] = patchHW;
  const HW = H * W;
  const anchorIndex = new Int32Array(batch);
  const positive = new Float32Array(batch * HW);
  const offsets = new Float32Array(batch * HW);
  const whole = level === 5;
  const half = Math.floor(cfg.window / 2);
  for (let b = 0; b < batch; b++) {
    const ay = clamp(t.patchYX[2 * b]! >> level, 0, h - 1);
    const ax = clamp(t.patchYX[2 * b + 1]! >> level, 0, w - 1);
    anchorIndex[b] = b * h * w + ay * w + ax;
    const gy = clamp(t.imageYX[2 * b]! >> level, 0, H - 1);
    const gx = clamp(t.imageYX[2 * b + 1]! >> level, 0, W - 1);
    positive[b * HW + gy * W + gx] = 1;
    const y0 = whole ? 0 : gy - half;
    const x0 = whole ? 0 : gx - half;
    const y1 = whole ? H : y0 + cfg.window;
    const x1 = whole ? W : x0 + cfg.window;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = b * HW + y * W + x;
        if (y < y0 || y >= y1 || x < x0 || x >= x1) {
          offsets[i] = -MASK_PENALTY;
        } else if (cfg.distanceBias) {
          offsets[i] = Math.min(BIAS_SLOPE * Math.hypot(y - gy, x - gx), BIAS_CAP) / cfg.temperature;
        }
      }
    }
  }
  return { anchorIndex, positive, offsets };
}

/**
 * Euclidean norm along `axis` with gradient 0 (not NaN) at a zero vector, as PyTorch's norm
 * backward does: sqrt(max(Σx², 1e-24)). Values differ from the exact norm only below 1e-12.
 */
export function safeNorm<T extends tf.Tensor>(x: T, axis: number, keepDims: boolean): tf.Tensor {
  return tf.sqrt(tf.maximum(tf.sum(tf.square(x), axis, keepDims), 1e-24));
}

/**
 * Cosine similarity between vectors `a` [B, L] and every cell of `maps` [B, N, L]:
 * ⟨a, e⟩/(‖a‖‖e‖ + 1e-3), shape [B, N]. One batched matmul.
 */
export function cosineToMaps(a: tf.Tensor2D, maps: tf.Tensor3D): tf.Tensor2D {
  const [B, N] = maps.shape;
  const dot = tf.reshape(tf.matMul(maps, tf.expandDims(a, 2)), [B, N]);
  const en = safeNorm(maps, 2, false);
  const an = safeNorm(a, 1, true);
  return tf.div(dot, tf.add(tf.mul(en, an), COSINE_EPS));
}

/**
 * The loss for a batch. `image` and `patch` are the network's level maps (index level − 1) for
 * the images [B, S/2^k, S/2^k, L] and patches [B, P/2^k, P/2^k, L]. Builds ops only (call it
 * inside a tidy or a gradient function).
 */
export function sslLoss(image: SslEmbeddingMaps, patch: SslEmbeddingMaps, targets: SslLossTargets, cfg: SslLossConfig): SslLossResult {
  const B = image[0].shape[0];
  if (targets.patchYX.length !== 2 * B || targets.imageYX.length !== 2 * B) {
    throw new Error(`ssl loss: targets for ${targets.patchYX.length / 2} samples, batch has ${B}`);
  }
  const perLevel: tf.Scalar[] = [];
  for (let level = 1; level <= 5; level++) {
    const e = image[level - 1];
    const pm = patch[level - 1];
    const [, H, W, L] = e.shape;
    const [, h, w] = pm.shape;
    const t = levelTargets(level, B, [H, W], [h, w], targets, cfg);
    const anchors = tf.gather(tf.reshape(pm, [B * h * w, L]), tf.tensor1d(t.anchorIndex, 'int32')) as tf.Tensor2D;
    const cos = cosineToMaps(anchors, tf.reshape(e, [B, H * W, L]));
    const logits = tf.add(tf.div(cos, cfg.temperature), tf.tensor2d(t.offsets, [B, H * W]));
    const logp = tf.logSoftmax(logits, 1);
    const nll = tf.neg(tf.sum(tf.mul(logp, tf.tensor2d(t.positive, [B, H * W])), 1));
    perLevel.push(tf.mean(nll) as tf.Scalar);
  }
  return { total: tf.addN(perLevel) as tf.Scalar, perLevel };
}
