/**
 * Functional layers over a ParamStore. Tensors are NHWC. Each function only builds ops; the
 * caller owns tidy scopes.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from './params';

export interface ForwardMode {
  /** Training mode: BatchNorm uses batch statistics and updates its running buffers. */
  training: boolean;
  /**
   * Training mode only: BatchNorm records its running-buffer updates here instead of applying
   * them at once; `BatchNormStats.apply()` then does them all with a handful of kernels.
   */
  bnStats?: BatchNormStats;
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
  const explicit = Array.isArray(pad) ? ([[0, 0], [pad[0], pad[0]], [pad[1], pad[1]], [0, 0]] as tf.backend_util.ExplicitPadding) : undefined;
  if (stride > 1 && w.shape[0] === 1 && w.shape[1] === 1) {
    // TF 2.21's oneDNN filter gradient of a 1×1 kernel with stride > 1 writes outside its buffers
    // (glibc aborts with a corrupted heap; bench/profiling/native-strided-1x1-grad.ts). The same
    // conv is a stride-1 1×1 conv of every stride-th pixel (a 1×1 kernel needs no 'same' padding).
    const padded = explicit ? tf.pad(x, explicit) : x;
    y = tf.conv2d(subsample(padded, stride), w, 1, 'valid');
  } else if (dilation > 1) {
    if (stride !== 1) throw new Error(`conv2d ${name}: dilation ${dilation} needs stride 1, got ${stride}`);
    y = dilatedConv2d(x, w, dilation, pad);
  } else {
    y = tf.conv2d(x, w, stride, explicit ?? (pad as 'same' | 'valid'), 'NHWC', dilation);
  }
  if (p.has(`${name}/b`)) y = biasAdd(y, p.get(`${name}/b`) as tf.Tensor1D);
  return y;
}

/**
 * Every `stride`-th row and column of x, from the first (what a strided 1×1 kernel reads), built
 * from pad, reshape and slice, which all have gradients (tfjs has none for a strided slice).
 */
export function subsample(x: tf.Tensor4D, stride: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const ho = Math.ceil(h / stride);
  const wo = Math.ceil(w / stride);
  const full = tf.pad(x, [[0, 0], [0, ho * stride - h], [0, wo * stride - w], [0, 0]]);
  const blocks = tf.reshape(full, [n, ho, stride, wo, stride, c]);
  return tf.reshape(tf.slice(blocks, [0, 0, 0, 0, 0, 0], [n, ho, 1, wo, 1, c]), [n, ho, wo, c]);
}

/**
 * x + b over the channel axis, with a one-kernel gradient (db = Σ dy over N, H, W; dx = dy)
 * instead of tfjs-core's broadcast-add gradient (a sum and two reshapes on tfjs-node).
 */
export function biasAdd(x: tf.Tensor4D, b: tf.Tensor1D): tf.Tensor4D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const value = tf.add(args[0] as tf.Tensor, args[1] as tf.Tensor);
    return { value, gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [dy as tf.Tensor, tf.sum(dy as tf.Tensor, [0, 1, 2])] };
  });
  return op(x, b) as tf.Tensor4D;
}

/**
 * Stride-1 dilated convolution as space-to-batch → dense conv → batch-to-space (what
 * TensorFlow's atrous convolution does). tfjs-core has no gradient for conv2d with dilation > 1;
 * this form is differentiable and gives the same forward values.
 * With 'same' padding and an odd kernel, an axis no longer than the dilation only ever meets
 * the kernel's centre tap (every other tap lands in the zero padding), so that axis is reduced
 * to the centre row/column exactly; small deep maps (the RFB blocks at /32) become 1×1 convs.
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
  let [pt, pb] = padAxis(kh, Array.isArray(pad) ? pad[0] : undefined);
  let [pl, pr] = padAxis(kw, Array.isArray(pad) ? pad[1] : undefined);
  if (h + pt + pb < d * (kh - 1) + 1 || wd + pl + pr < d * (kw - 1) + 1) {
    throw new Error(`dilatedConv2d: input ${h}x${wd} too small for a ${kh}x${kw} kernel at dilation ${d}`);
  }
  const centreOnly = (k: number, size: number, lo: number, hi: number): boolean => k > 1 && k % 2 === 1 && lo === hi && lo === (d * (k - 1)) / 2 && d >= size;
  let kernel = w;
  if (centreOnly(kh, h, pt, pb)) {
    kernel = tf.slice(kernel, [(kh - 1) / 2, 0, 0, 0], [1, -1, -1, -1]);
    pt = 0;
    pb = 0;
  }
  if (centreOnly(kw, wd, pl, pr)) {
    kernel = tf.slice(kernel, [0, (kw - 1) / 2, 0, 0], [-1, 1, -1, -1]);
    pl = 0;
    pr = 0;
  }
  const bh = kernel.shape[0] === 1 ? 1 : d;
  const bw = kernel.shape[1] === 1 ? 1 : d;
  if (bh === 1 && bw === 1) {
    const padding = pt + pb + pl + pr === 0 ? 'valid' : ([[0, 0], [pt, pb], [pl, pr], [0, 0]] as tf.backend_util.ExplicitPadding);
    return tf.conv2d(x, kernel, 1, padding);
  }
  const hp = h + pt + pb;
  const wp = wd + pl + pr;
  const eh = (bh - (hp % bh)) % bh;
  const ew = (bw - (wp % bw)) % bw;
  const xs = tf.spaceToBatchND(x, [bh, bw], [[pt, pb + eh], [pl, pr + ew]]);
  const ys = tf.conv2d(xs as tf.Tensor4D, kernel, 1, 'valid');
  return tf.batchToSpaceND(ys, [bh, bw], [[0, eh], [0, ew]]) as tf.Tensor4D;
}

const BN_MOMENTUM = 0.1; // PyTorch convention: running = (1 − m)·running + m·batch
const NORM_EPS = 1e-5;

/**
 * Optional one-op training kernels that a backend may register under these names (the native
 * backend does, see infra/); without them the layers below use their pure-tfjs composites.
 */
export const FAST_KERNELS = { reluGrad: 'Cc2dReluGrad', batchNormTrain: 'Cc2dBatchNormTrain', batchNormTrainGrad: 'Cc2dBatchNormTrainGrad' } as const;

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * BatchNorm over N, H, W. Training mode normalises with the batch statistics (biased
 * variance), updates the running buffers with the unbiased one (PyTorch), and has a hand-written
 * gradient (the full BN backward, batch statistics included) instead of tfjs-core's generic
 * one, which costs dozens of kernels per layer on tfjs-node. Eval mode uses the running buffers.
 */
export function batchNorm(p: ParamStore, name: string, x: tf.Tensor4D, mode: ForwardMode): tf.Tensor4D {
  const gamma = p.get(`${name}/gamma`);
  const beta = p.get(`${name}/beta`);
  const runMean = p.get(`${name}/mean`);
  const runVar = p.get(`${name}/var`);
  if (!mode.training) return tf.batchNorm(x, runMean, runVar, beta, gamma, NORM_EPS) as tf.Tensor4D;
  const n = x.shape[0] * x.shape[1] * x.shape[2];
  const record = (mean: tf.Tensor, variance: tf.Tensor, unbias: number) => {
    if (mode.bnStats) {
      mode.bnStats.record(runMean, runVar, mean, variance, unbias);
    } else {
      tf.tidy(() => {
        const v = tf.mul(variance, unbias);
        runMean.assign(tf.add(tf.mul(runMean, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
        runVar.assign(tf.add(tf.mul(runVar, 1 - BN_MOMENTUM), tf.mul(v, BN_MOMENTUM)));
      });
    }
  };
  if (hasKernel(FAST_KERNELS.batchNormTrain)) return nativeBatchNormTrain(x, gamma, beta, record);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xin, g, b] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    // Moments as sums (tfjs-node's Mean kernel first copies its input through a Cast).
    const mean = tf.mul(tf.sum(xin, [0, 1, 2]), 1 / n);
    const centered = tf.sub(xin, mean);
    const variance = tf.mul(tf.sum(tf.square(centered), [0, 1, 2]), 1 / n);
    record(mean, variance, n / Math.max(n - 1, 1));
    const invStd = tf.rsqrt(tf.add(variance, NORM_EPS));
    save([centered, invStd, g]);
    const value = tf.batchNorm(xin, mean, variance, b, g, NORM_EPS) as tf.Tensor4D;
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sCentered, sInv, sGamma] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
        const d = dy as tf.Tensor4D;
        const xhat = tf.mul(sCentered, sInv);
        const dBeta = tf.sum(d, [0, 1, 2]);
        const dGamma = tf.sum(tf.mul(d, xhat), [0, 1, 2]);
        const k = tf.mul(sGamma, sInv);
        // dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂))
        const dx = tf.mul(tf.sub(d, tf.add(tf.mul(xhat, tf.mul(dGamma, 1 / n)), tf.mul(dBeta, 1 / n))), k);
        return [dx, dGamma, dBeta];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

/** Training-mode BatchNorm as the backend's fused forward and backward ops (see FAST_KERNELS). */
function nativeBatchNormTrain(
  x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, record: (mean: tf.Tensor, variance: tf.Tensor, unbias: number) => void,
): tf.Tensor4D {
  const attrs = { epsilon: NORM_EPS } as unknown as tf.NamedAttrMap;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xin, g, b] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    // [y, batch mean, unbiased batch variance, saved mean, saved variance]
    const [value, mean, unbiasedVar, saved1, saved2] = tf.engine().runKernel(FAST_KERNELS.batchNormTrain, { x: xin, scale: g, offset: b }, attrs) as tf.Tensor[];
    record(mean!, unbiasedVar!, 1);
    save([xin, g, saved1!, saved2!]);
    return {
      value: value as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], s: tf.Tensor[]) => {
        const [sx, sg, s1, s2] = s as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.engine().runKernel(FAST_KERNELS.batchNormTrainGrad, { dy: dy as tf.Tensor, x: sx, scale: sg, saved1: s1, saved2: s2 }, attrs) as tf.Tensor[];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

interface PendingStat {
  runMean: tf.Variable;
  runVar: tf.Variable;
  mean: tf.Tensor;
  variance: tf.Tensor;
  /** Factor making `variance` unbiased: n/(n−1) for a biased one, 1 for an unbiased one. */
  unbias: number;
}

/**
 * Deferred BatchNorm running-statistics updates for one training step. Recording keeps the batch
 * moments; `apply()` performs, per buffer and in recording order, exactly the update batchNorm
 * would have made (running = 0.9·running + 0.1·batch, unbiased variance), batched over layers:
 * the k-th update of every buffer goes into round k. Always call `apply()` or `dispose()`.
 */
export class BatchNormStats {
  private pending: PendingStat[] = [];

  record(runMean: tf.Variable, runVar: tf.Variable, mean: tf.Tensor, variance: tf.Tensor, unbias: number): void {
    this.pending.push({ runMean, runVar, mean: tf.keep(mean), variance: tf.keep(variance), unbias });
  }

  get size(): number {
    return this.pending.length;
  }

  apply(): void {
    const rounds: PendingStat[][] = [];
    const seen = new Map<tf.Variable, number>();
    for (const e of this.pending) {
      const r = seen.get(e.runMean) ?? 0;
      seen.set(e.runMean, r + 1);
      (rounds[r] ??= []).push(e);
    }
    try {
      tf.tidy(() => {
        for (const round of rounds) {
          const unbias = new Float32Array(round.reduce((a, e) => a + e.variance.size, 0));
          let off = 0;
          for (const e of round) {
            unbias.fill(e.unbias, off, off + e.variance.size);
            off += e.variance.size;
          }
          updateRunning(round.map((e) => e.runMean), concat1d(round.map((e) => e.mean)));
          updateRunning(round.map((e) => e.runVar), tf.mul(concat1d(round.map((e) => e.variance)), tf.tensor1d(unbias)));
        }
      });
    } finally {
      this.dispose();
    }
  }

  dispose(): void {
    for (const e of this.pending) tf.dispose([e.mean, e.variance]);
    this.pending = [];
  }
}

/** Concatenation of vectors (reshaping only tensors that are not already 1-D). */
function concat1d(ts: readonly tf.Tensor[]): tf.Tensor1D {
  const flat = ts.map((t) => (t.rank === 1 ? t : tf.reshape(t, [-1])));
  return (flat.length === 1 ? flat[0]! : tf.concat(flat)) as tf.Tensor1D;
}

function updateRunning(buffers: tf.Variable[], batch: tf.Tensor): void {
  const running = concat1d(buffers);
  const next = tf.add(tf.mul(running, 1 - BN_MOMENTUM), tf.mul(batch, BN_MOMENTUM));
  const parts = buffers.length === 1 ? [next] : tf.split(next, buffers.map((b) => b.size));
  buffers.forEach((b, i) => b.assign(b.rank === 1 ? parts[i]! : tf.reshape(parts[i]!, b.shape)));
}

/**
 * ReLU with a two-kernel gradient, dy·sign(relu(x)), instead of tfjs-core's Step-based one
 * (about six kernels on tfjs-node), or the backend's one-op ReluGrad when it has one. Same
 * values and the same gradient (0 at x ≤ 0).
 */
export function relu<T extends tf.Tensor>(x: T): T {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const y = tf.relu(args[0] as tf.Tensor);
    (args[1] as tf.GradSaveFunc)([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => hasKernel(FAST_KERNELS.reluGrad)
        ? (tf.engine().runKernel(FAST_KERNELS.reluGrad, { dy: dy as tf.Tensor, y: saved[0]! }) as tf.Tensor)
        : tf.mul(dy as tf.Tensor, tf.sign(saved[0]!)),
    };
  });
  return op(x) as T;
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
