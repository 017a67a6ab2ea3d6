/**
 * Multi-task U-Net of the TPL stage (docs/method.md#tpl-network; "Miss the Point" network as used by CC2D).
 *
 *   input [N, S, S, 1] in [0, 1] → (v − 0.5)/0.5 → VGG19 encoder (ml/core): f0 … f4
 *   up1 = Up(f4, f3) → 256·w   (/16)      Up(x, skip) = DoubleConv(concat[skip, up2x(x)])
 *   up2 = Up(up1, f2) → 128·w  (/8)       up2x = bilinear ×2, align-corners
 *   up3 = Up(up2, f1) → 64·w   (/4)       DoubleConv = 2 × (3×3 conv → InstanceNorm → ReLU)
 *   up4 = Up(up3, f0) → 128·w  (/2)       InstanceNorm: per sample and channel, eps 1e−5, no affine
 *   up5 = Up(up4)     → 64·w   (/1, no skip)
 *   final 1×1 conv → 3·K channels: [0, K) heatmap logits (σ gives the heatmap),
 *                                  [K, 2K) x-offsets, [2K, 3K) y-offsets.
 *
 * Entry points: `tplForward` (full output), and for the fast paths `tplFeatures` (everything
 * before the final conv), `tplHeatLogits` (final conv, heatmap channels only) and
 * `tplHeadAtRows` (final conv at selected pixels only).
 *
 * Differences from the reference that do not change the function:
 * - The input has 1 channel. The reference feeds the gray value copied into 3 channels, which
 *   is the same as one channel with the three first-layer kernels summed.
 * - The decoder convolutions have no bias: every one is followed by an InstanceNorm that
 *   subtracts the per-channel mean, so a bias there has no effect on the output.
 * - InstanceNorm+ReLU uses a hand-written gradient (fast-ops.ts) for speed; the VGG encoder is
 *   ml/core's (shared with the stage-I network).
 * Deliberate change (docs/method.md#dev-heat-prior): the heatmap channels' output bias starts at logit(0.01)
 * so that σ starts near 0.01 instead of 0.5; the offset biases start at 0.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../core/params';
import { conv2d, scaled, upsample2 } from '../core/layers';
import { defineVggEncoder, vggChannels, vggEncoder } from '../core/vgg-encoder';
import { gatherRows, instanceNormRelu } from './fast-ops';

export interface TplNetworkConfig {
  /** Channel width multiplier (1 = paper). */
  width: number;
  /** K, the number of landmarks (19 for the ISBI head set). */
  landmarkCount: number;
}

/** Initial heatmap probability (docs/method.md#dev-heat-prior: a head that starts at 0.5 can get stuck). */
export const HEAT_PRIOR = 0.01;

const ENCODER = 'enc';
/** Parameter-name prefix of the U-Net's VGG encoder (where backbone weights go). */
export const TPL_ENCODER_PREFIX = ENCODER;
/** [name, output channels at width 1, skip level or null]. */
const DECODER = [
  ['up1', 256, 3],
  ['up2', 128, 2],
  ['up3', 64, 1],
  ['up4', 128, 0],
  ['up5', 64, null],
] as const;

function checkConfig(cfg: TplNetworkConfig): void {
  if (!(cfg.width > 0 && cfg.width <= 1)) throw new Error(`tpl network: width must be in (0, 1], got ${cfg.width}`);
  if (!Number.isInteger(cfg.landmarkCount) || cfg.landmarkCount < 1) {
    throw new Error(`tpl network: landmarkCount must be a positive integer, got ${cfg.landmarkCount}`);
  }
}

/**
 * Declares every parameter of the network in `p` (seeded He init from p's PRNG). Runs in a
 * tidy scope: ParamStore creates each variable from a temporary tensor that it never disposes
 * (variables survive tidy, the temporaries do not).
 */
export function defineTplNetwork(p: ParamStore, cfg: TplNetworkConfig): void {
  checkConfig(cfg);
  tf.tidy(() => {
    const w = cfg.width;
    defineVggEncoder(p, ENCODER, 1, w);
    const enc = vggChannels(w);
    let cin = enc[4]!;
    for (const [name, c, skip] of DECODER) {
      const cout = scaled(c, w);
      const cat = cin + (skip === null ? 0 : enc[skip]!);
      p.conv(`${name}/c0`, 3, 3, cat, cout, false);
      p.conv(`${name}/c1`, 3, 3, cout, cout, false);
      cin = cout;
    }
    const k = cfg.landmarkCount;
    p.conv('final', 1, 1, cin, 3 * k, true);
    const bias = new Float32Array(3 * k);
    bias.fill(Math.log(HEAT_PRIOR / (1 - HEAT_PRIOR)), 0, k);
    p.get('final/b').assign(tf.tensor1d(bias));
  });
}

function doubleConv(p: ParamStore, name: string, x: tf.Tensor4D): tf.Tensor4D {
  const h = tf.tidy(() => instanceNormRelu(conv2d(p, `${name}/c0`, x)));
  return tf.tidy(() => instanceNormRelu(conv2d(p, `${name}/c1`, h)));
}

/**
 * Decoder output before the final 1×1 conv: [N, S, S, 64·w]. `images` is [N, S, S, 1] with
 * intensities in [0, 1], S a multiple of 32. Layers and blocks run in their own tidy scopes, so
 * a forward without gradient tape frees intermediates block by block (the tape keeps what the
 * backward pass needs by itself); the block outputs stay in the caller's scope.
 */
export function tplFeatures(p: ParamStore, images: tf.Tensor4D): tf.Tensor4D {
  const [, h, w, c] = images.shape;
  if (c !== 1) throw new Error(`tplForward: expected 1 input channel, got ${c}`);
  if (h % 32 !== 0 || w % 32 !== 0) throw new Error(`tplForward: input ${h}×${w} must be a multiple of 32 on both sides`);
  const x = tf.div(tf.sub(images, 0.5), 0.5) as tf.Tensor4D;
  const feats = vggEncoder(p, ENCODER, x);
  let y = feats[4]!;
  for (const [name, , skip] of DECODER) {
    const input = y;
    y = tf.tidy(() => doubleConv(p, name, skip === null ? upsample2(input) : tf.concat([feats[skip]!, upsample2(input)], 3)));
  }
  return y;
}

/** Full forward: the raw [N, S, S, 3K] output (heatmap logits, x-offsets, y-offsets). */
export function tplForward(p: ParamStore, images: tf.Tensor4D): tf.Tensor4D {
  return conv2d(p, 'final', tplFeatures(p, images));
}

/** The final conv restricted to the K heatmap channels: [N, S, S, K] logits (training path). */
export function tplHeatLogits(p: ParamStore, features: tf.Tensor4D, landmarkCount: number): tf.Tensor4D {
  const w = p.get('final/w');
  const c = w.shape[2]!;
  const wHeat = tf.slice(w, [0, 0, 0, 0], [1, 1, c, landmarkCount]) as tf.Tensor4D;
  const bHeat = tf.slice(p.get('final/b'), [0], [landmarkCount]);
  return tf.add(tf.conv2d(features, wHeat, 1, 'valid'), bHeat) as tf.Tensor4D;
}

/**
 * The full 3K-channel output at selected pixels only: rows r = n·S·S + y·S + x (int32) →
 * [rows, 3K]. Equals the matching rows of `tplForward`; evaluates the offset heads at disk
 * pixels only (training: rows must then be DISTINCT, see gatherRows) or at vote candidates
 * (inference, duplicates allowed).
 */
export function tplHeadAtRows(p: ParamStore, features: tf.Tensor4D, rows: tf.Tensor1D): tf.Tensor2D {
  const w = p.get('final/w');
  const c = w.shape[2]!;
  const g = gatherRows(tf.reshape(features, [-1, c]), rows) as tf.Tensor2D;
  return tf.add(tf.matMul(g, tf.reshape(w, [c, w.shape[3]!]) as tf.Tensor2D), p.get('final/b')) as tf.Tensor2D;
}

/** Splits the raw output into heatmap logits and x / y offsets, each [N, H, W, K]. */
export function splitTplOutput(out: tf.Tensor4D, landmarkCount: number): { heatLogits: tf.Tensor4D; offsetX: tf.Tensor4D; offsetY: tf.Tensor4D } {
  const k = landmarkCount;
  if (out.shape[3] !== 3 * k) throw new Error(`splitTplOutput: output has ${out.shape[3]} channels, expected 3·K = ${3 * k}`);
  const [heatLogits, offsetX, offsetY] = tf.split(out, 3, 3) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  return { heatLogits, offsetX, offsetY };
}
