/**
 * Functional layers over a ParamStore. Tensors are NHWC. Each function only builds ops; the
 * caller owns tidy scopes.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from './params';

export interface ForwardMode {
  /** Training mode: BatchNorm uses batch statistics and updates its running buffers. */
  training: boolean;
}

export interface ConvOptions {
  stride?: number;
  /** 'same' or explicit symmetric [padH, padW]. */
  pad?: 'same' | 'valid' | [number, number];
  dilation?: number;
}

export function conv2d(p: ParamStore, name: string, x: tf.Tensor4D, opts: ConvOptions = {}): tf.Tensor4D {
  const w = p.get(`${name}/w`) as unknown as tf.Tensor4D;
  const stride = opts.stride ?? 1;
  const dilation = opts.dilation ?? 1;
  const pad = opts.pad ?? 'same';
  let y: tf.Tensor4D;
  if (dilation > 1) {
    if (stride !== 1) throw new Error(`conv2d ${name}: dilation ${dilation} needs stride 1, got ${stride}`);
    y = dilatedConv2d(x, w, dilation, pad);
  } else {
    const padding = Array.isArray(pad) ? ([[0, 0], [pad[0], pad[0]], [pad[1], pad[1]], [0, 0]] as tf.backend_util.ExplicitPadding) : pad;
    y = tf.conv2d(x, w, stride, padding, 'NHWC', dilation);
  }
  if (p.has(`${name}/b`)) y = tf.add(y, p.get(`${name}/b`));
  return y;
}

/**
 * Stride-1 dilated convolution as space-to-batch → dense conv → batch-to-space (what
 * TensorFlow's atrous convolution does). tfjs-core has no gradient for conv2d with dilation > 1;
 * this form is differentiable and gives the same forward values.
 */
export function dilatedConv2d(x: tf.Tensor4D, w: tf.Tensor4D, dilation: number, pad: 'same' | 'valid' | [number, number]): tf.Tensor4D {
  const d = dilation;
  const [, h, wd] = x.shape;
  const [kh, kw] = w.shape;
  const padAxis = (k: number, explicit: number | undefined): [number, number] => {
    if (explicit !== undefined) return [explicit, explicit];
    if (pad === 'valid') return [0, 0];
    const total = d * (k - 1);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [pt, pb] = padAxis(kh, Array.isArray(pad) ? pad[0] : undefined);
  const [pl, pr] = padAxis(kw, Array.isArray(pad) ? pad[1] : undefined);
  const hp = h + pt + pb;
  const wp = wd + pl + pr;
  if (hp < d * (kh - 1) + 1 || wp < d * (kw - 1) + 1) throw new Error(`dilatedConv2d: input ${h}x${wd} too small for a ${kh}x${kw} kernel at dilation ${d}`);
  const eh = (d - (hp % d)) % d;
  const ew = (d - (wp % d)) % d;
  const xs = tf.spaceToBatchND(x, [d, d], [[pt, pb + eh], [pl, pr + ew]]);
  const ys = tf.conv2d(xs as tf.Tensor4D, w, 1, 'valid');
  return tf.batchToSpaceND(ys, [d, d], [[0, eh], [0, ew]]) as tf.Tensor4D;
}

const BN_MOMENTUM = 0.1; // PyTorch convention: running = (1 − m)·running + m·batch
const NORM_EPS = 1e-5;

export function batchNorm(p: ParamStore, name: string, x: tf.Tensor4D, mode: ForwardMode): tf.Tensor4D {
  const gamma = p.get(`${name}/gamma`);
  const beta = p.get(`${name}/beta`);
  const runMean = p.get(`${name}/mean`);
  const runVar = p.get(`${name}/var`);
  if (!mode.training) return tf.batchNorm(x, runMean, runVar, beta, gamma, NORM_EPS) as tf.Tensor4D;
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  // Running stats use the unbiased batch variance, as PyTorch does. They do not feed the
  // loss, so the tape gives them no gradient.
  const n = x.shape[0] * x.shape[1] * x.shape[2];
  tf.tidy(() => {
    const m = mean;
    const v = tf.mul(variance, n / Math.max(n - 1, 1));
    runMean.assign(tf.add(tf.mul(runMean, 1 - BN_MOMENTUM), tf.mul(m, BN_MOMENTUM)));
    runVar.assign(tf.add(tf.mul(runVar, 1 - BN_MOMENTUM), tf.mul(v, BN_MOMENTUM)));
  });
  return tf.batchNorm(x, mean, variance, beta, gamma, NORM_EPS) as tf.Tensor4D;
}

/** InstanceNorm without affine parameters (per sample, per channel). */
export function instanceNorm(x: tf.Tensor4D): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [1, 2], true);
  return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, NORM_EPS)));
}

export function maxPool2(x: tf.Tensor4D): tf.Tensor4D {
  return tf.maxPool(x, 2, 2, 'valid');
}

/** Bilinear ×2 upsample with align-corners (the decoder's "Up"). */
export function upsample2(x: tf.Tensor4D): tf.Tensor4D {
  return tf.image.resizeBilinear(x, [x.shape[1] * 2, x.shape[2] * 2], true);
}

/** Scales a channel count by the profile's width multiplier (at least 4 channels). */
export function scaled(channels: number, width: number): number {
  return Math.max(4, Math.round(channels * width));
}
