import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { batchNorm, BatchNormStats, biasAdd, conv2d, dilatedConv2d, relu } from '../../../ml/core/layers';
import { ParamStore } from '../../../ml/core/params';
import { Prng } from '../../../ml/core/prng';
import { defineVggEncoder } from '../../../ml/core/vgg-encoder';

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/** A dilated kernel written out densely (zeros between taps): a reference with ordinary gradients. */
function dense(w: tf.Tensor4D, d: number): tf.Tensor4D {
  const [kh, kw, ci, co] = w.shape;
  const buf = tf.buffer([(kh - 1) * d + 1, (kw - 1) * d + 1, ci, co]);
  const src = w.arraySync();
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) buf.set(src[i]![j]![c]![o]!, i * d, j * d, c, o);
  return buf.toTensor() as tf.Tensor4D;
}

describe('core layers', () => {
  it('dilated conv (space-to-batch) equals the dense-kernel conv, values and gradients, non-square input', () => {
    // Includes maps no longer than the dilation on one or both axes (centre-tap reduction).
    const cases: Array<[number, number, number]> = [[3, 9, 13], [5, 9, 13], [7, 9, 13], [5, 3, 9], [7, 9, 6], [7, 6, 6], [3, 3, 3], [7, 1, 2]];
    for (const [d, H, W] of cases) {
      tf.tidy(() => {
        const x = tf.randomNormal([2, H, W, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
        const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
        const ref = (xx: tf.Tensor4D, ww: tf.Tensor4D) => tf.conv2d(xx, dense(ww, d), 1, 'same');
        expect(maxAbsDiff(dilatedConv2d(x, w, d, 'same'), ref(x, w))).toBeLessThan(1e-4);
        expect(maxAbsDiff(dilatedConv2d(x, w, d, 'same'), tf.conv2d(x, w, 1, 'same', 'NHWC', d))).toBeLessThan(1e-4);
        const dy = tf.randomNormal([2, H, W, 4], 0, 1, 'float32', 3);
        const [gx, gw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(dilatedConv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, d, 'same'), dy)))([x, w]);
        const gxRef = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(ref(xx as tf.Tensor4D, w), dy)))(x);
        expect(maxAbsDiff(gx!, gxRef)).toBeLessThan(1e-3);
        // Weight gradient: the dense kernel's gradient at the taps.
        const gDense = tf.grad((ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, ww as tf.Tensor4D, 1, 'same'), dy)))(dense(w, d));
        const taps = tf.stack([0, 1, 2].map((i) => tf.stack([0, 1, 2].map((j) => tf.slice(gDense, [i * d, j * d, 0, 0], [1, 1, 3, 4]).reshape([3, 4])))));
        expect(maxAbsDiff(gw!, taps)).toBeLessThan(1e-3);
      });
    }
  });

  it('conv2d on a ParamStore routes dilation > 1 through the differentiable form', () => {
    const p = new ParamStore(Prng.fromSeed(1));
    p.conv('c', 3, 3, 2, 2, false);
    tf.tidy(() => {
      const x = tf.randomNormal([1, 12, 12, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
      const g = tf.variableGrads(() => tf.sum(conv2d(p, 'c', x, { dilation: 3 })) as tf.Scalar, [p.get('c/w')]);
      expect(g.grads[p.get('c/w').name]!.shape).toEqual([3, 3, 2, 2]);
    });
    p.dispose();
  });

  it('conv2d computes a strided 1×1 kernel without the native strided kernel (its filter gradient corrupts memory): same values, gradients of the subsampled conv', async () => {
    const p = new ParamStore(Prng.fromSeed(1));
    p.conv('one', 1, 1, 2, 3, true);
    tf.engine().startScope();
    try {
      for (const [size, pad] of [[12, 'same'], [11, 'same'], [11, 'valid'], [9, [1, 2]]] as Array<[number, 'same' | 'valid' | [number, number]]>) {
        const x = tf.randomNormal([2, size, size + 2, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
        const padding = Array.isArray(pad) ? ([[0, 0], [pad[0], pad[0]], [pad[1], pad[1]], [0, 0]] as tf.backend_util.ExplicitPadding) : pad;
        // The forward pass of the native strided conv is sound: the reference for the values.
        const ref = tf.add(tf.conv2d(x, p.get('one/w') as tf.Tensor4D, 2, padding), p.get('one/b'));
        const y = conv2d(p, 'one', x, { stride: 2, pad });
        expect(y.shape, `${size} ${pad}`).toEqual(ref.shape);
        expect(tf.max(tf.abs(tf.sub(y, ref))).dataSync()[0]).toBeLessThan(1e-5);
        // Gradients, against sums written out: dx is w·dy at every other pixel and 0 between;
        // dw sums x·dy over the pixels read.
        if (Array.isArray(pad)) continue;
        const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 5);
        const loss = (xx: tf.Tensor) => tf.sum(tf.mul(conv2d(p, 'one', xx as tf.Tensor4D, { stride: 2, pad }), dy)) as tf.Scalar;
        const dx = tf.grad(loss)(x).arraySync() as number[][][][];
        let dw: number[][][][] = [];
        // No convolution kernel of the forward or backward pass is strided: each keeps its input's size.
        const profile = await tf.profile(() => {
          const g = tf.variableGrads(() => loss(x));
          dw = g.grads[p.get('one/w').name]!.arraySync() as number[][][][];
        });
        const convs = profile.kernels.filter((k) => k.name.startsWith('Conv2D'));
        expect(convs.map((k) => k.name).sort()).toEqual(['Conv2D', 'Conv2DBackpropFilter']);
        const forward = convs.find((k) => k.name === 'Conv2D')!;
        expect(forward.outputShapes[0]!.slice(1, 3)).toEqual(forward.inputShapes[0]!.slice(1, 3));
        const xs = x.arraySync();
        const dys = dy.arraySync() as number[][][][];
        const ws = p.get('one/w').arraySync() as number[][][][];
        let dw00 = 0;
        for (let b = 0; b < 2; b++) for (let i = 0; i < y.shape[1]; i++) for (let j = 0; j < y.shape[2]; j++) dw00 += xs[b]![2 * i]![2 * j]![0]! * dys[b]![i]![j]![0]!;
        expect(dw[0]![0]![0]![0]!).toBeCloseTo(dw00, 4);
        const dx00 = [0, 1, 2].reduce((sum, c) => sum + ws[0]![0]![0]![c]! * dys[0]![0]![0]![c]!, 0);
        expect(dx[0]![0]![0]![0]!).toBeCloseTo(dx00, 5);
        expect(dx[0]![1]![0]![0]).toBe(0);
        expect(dx[0]![0]![1]![0]).toBe(0);
      }
      expect(conv2d(p, 'one', tf.zeros([1, 12, 12, 2]) as tf.Tensor4D).shape).toEqual([1, 12, 12, 3]);
    } finally {
      tf.engine().endScope();
      p.dispose();
    }
  });

  it('batchNorm (custom gradient) matches the generic tfjs gradient and updates running stats like PyTorch', () => {
    const p = new ParamStore(Prng.fromSeed(1));
    p.batchNorm('bn', 3);
    tf.tidy(() => {
      p.get('bn/gamma').assign(tf.tensor1d([1.5, 0.5, -1]));
      p.get('bn/beta').assign(tf.tensor1d([0.1, 0.2, 0.3]));
      const x = tf.add(tf.mul(tf.randomNormal([2, 5, 7, 3], 0, 1, 'float32', 5), 2), 1) as tf.Tensor4D;
      const dy = tf.randomNormal([2, 5, 7, 3], 0, 1, 'float32', 6);
      const generic = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(xx, [0, 1, 2]);
        return tf.sum(tf.mul(tf.batchNorm(xx as tf.Tensor4D, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-5), dy));
      };
      const ref = tf.grads(generic)([x, p.get('bn/gamma'), p.get('bn/beta')]);
      const ours = tf.grads((xx: tf.Tensor) => tf.sum(tf.mul(batchNorm(p, 'bn', xx as tf.Tensor4D, { training: true }), dy)))([x]);
      expect(maxAbsDiff(ours[0]!, ref[0]!)).toBeLessThan(1e-4);
      const vg = tf.variableGrads(() => tf.sum(tf.mul(batchNorm(p, 'bn', x, { training: true }), dy)) as tf.Scalar, [p.get('bn/gamma'), p.get('bn/beta')]);
      expect(maxAbsDiff(vg.grads[p.get('bn/gamma').name]!, ref[1]!)).toBeLessThan(1e-3);
      expect(maxAbsDiff(vg.grads[p.get('bn/beta').name]!, ref[2]!)).toBeLessThan(1e-4);
    });
    // Running stats: start (0, 1), three identical batches with momentum 0.1 and unbiased variance.
    const p2 = new ParamStore(Prng.fromSeed(1));
    p2.batchNorm('bn', 1);
    const x = tf.tensor4d([1, 2, 3, 6], [1, 2, 2, 1]);
    for (let i = 0; i < 3; i++) tf.tidy(() => batchNorm(p2, 'bn', x, { training: true }));
    const mean = 3;
    const unbiased = (4 + 1 + 0 + 9) / 3;
    expect(p2.get('bn/mean').dataSync()[0]).toBeCloseTo(mean * (1 - 0.9 ** 3), 5);
    expect(p2.get('bn/var').dataSync()[0]).toBeCloseTo(0.9 ** 3 + unbiased * (1 - 0.9 ** 3), 5);
    // Eval mode uses the running stats.
    const y = tf.tidy(() => batchNorm(p2, 'bn', x, { training: false }).dataSync());
    const rm = p2.get('bn/mean').dataSync()[0]!;
    const rv = p2.get('bn/var').dataSync()[0]!;
    expect(y[0]).toBeCloseTo((1 - rm) / Math.sqrt(rv + 1e-5), 5);
    x.dispose();
    p.dispose();
    p2.dispose();
  });

  it('relu has the values and gradient of tf.relu', () => {
    tf.tidy(() => {
      const x = tf.tensor1d([-2, -0.5, 0, 0.5, 3]);
      expect(Array.from(relu(x).dataSync())).toEqual([0, 0, 0, 0.5, 3]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(relu(t), tf.tensor1d([1, 2, 3, 4, 5]))))(x);
      const gRef = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), tf.tensor1d([1, 2, 3, 4, 5]))))(x);
      expect(Array.from(g.dataSync())).toEqual(Array.from(gRef.dataSync()));
    });
  });

  it('ParamStore leaves no tensors behind after dispose, and load checks names and shapes', async () => {
    const base = tf.memory().numTensors;
    const p = new ParamStore(Prng.fromSeed(1));
    defineVggEncoder(p, 'enc', 1, 0.0625);
    p.batchNorm('bn', 4);
    expect(tf.memory().numTensors).toBe(base + p.trainable.size + p.buffers.size);
    const arrays = await p.toArrays();
    p.load(arrays);
    expect(tf.memory().numTensors).toBe(base + p.trainable.size + p.buffers.size);
    expect(() => p.load(arrays.slice(1))).toThrow(/lacks/);
    expect(() => p.load(arrays.map((a) => (a.name.endsWith('/w') ? { ...a, shape: [a.data.length] } : a)))).toThrow(/shape/);
    p.dispose();
    expect(tf.memory().numTensors).toBe(base);
  });

  it('BatchNormStats defers running-stat updates with bit-identical results (two passes, two layers)', () => {
    const make = () => {
      const p = new ParamStore(Prng.fromSeed(1));
      p.batchNorm('a', 3);
      p.batchNorm('b', 5);
      return p;
    };
    const immediate = make();
    const deferred = make();
    const xa1 = tf.randomNormal([2, 4, 4, 3], 1, 2, 'float32', 1) as tf.Tensor4D;
    const xa2 = tf.randomNormal([2, 2, 2, 3], -1, 3, 'float32', 2) as tf.Tensor4D;
    const xb = tf.randomNormal([1, 3, 5, 5], 0, 1, 'float32', 3) as tf.Tensor4D;
    tf.tidy(() => {
      batchNorm(immediate, 'a', xa1, { training: true });
      batchNorm(immediate, 'b', xb, { training: true });
      batchNorm(immediate, 'a', xa2, { training: true });
    });
    const stats = new BatchNormStats();
    tf.tidy(() => {
      batchNorm(deferred, 'a', xa1, { training: true, bnStats: stats });
      batchNorm(deferred, 'b', xb, { training: true, bnStats: stats });
      batchNorm(deferred, 'a', xa2, { training: true, bnStats: stats });
    });
    expect(stats.size).toBe(3);
    expect(Array.from(deferred.get('a/mean').dataSync())).toEqual([0, 0, 0]); // not yet applied
    stats.apply();
    for (const name of ['a/mean', 'a/var', 'b/mean', 'b/var']) {
      expect(Array.from(deferred.get(name).dataSync())).toEqual(Array.from(immediate.get(name).dataSync()));
    }
    tf.dispose([xa1, xa2, xb]);
    immediate.dispose();
    deferred.dispose();
  });

  it('biasAdd has the values and gradients of a broadcast tf.add', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([2, 3, 5, 4], 0, 1, 'float32', 7) as tf.Tensor4D;
      const b = tf.tensor1d([0.5, -1, 2, 0]);
      const dy = tf.randomNormal([2, 3, 5, 4], 0, 1, 'float32', 8);
      expect(maxAbsDiff(biasAdd(x, b), tf.add(x, b))).toBe(0);
      const ours = tf.grads((xx: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(biasAdd(xx as tf.Tensor4D, bb as tf.Tensor1D), dy)))([x, b]);
      const ref = tf.grads((xx: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(tf.add(xx, bb), dy)))([x, b]);
      expect(maxAbsDiff(ours[0]!, ref[0]!)).toBe(0);
      expect(maxAbsDiff(ours[1]!, ref[1]!)).toBeLessThan(1e-5);
    });
  });
});
