/**
 * Conv2DBackpropFilter for the WASM backend, which ships no filter-gradient kernel, built only
 * from kernels WASM has (Transpose, Slice, Conv2D with dilation and explicit padding).
 * dW[kh,kw,ci,co] = Σ x[n, oh·s+kh−padT, ow·s+kw−padL, ci]·dy[n,oh,ow,co] is a convolution in
 * which input channels act as the batch and the batch acts as channels: transpose x to
 * [ci, h, w, n] and dy to [oh, ow, n, co], convolve with the stride as dilation, transpose back.
 */
import * as tf from '@tensorflow/tfjs';

interface BackpropFilterAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

export function registerWasmTrainingKernels(): void {
  replaceWasmMaxPoolGrad();
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs }) => {
      const { x, dy } = inputs as { x: tf.Tensor4D; dy: tf.Tensor4D };
      const a = attrs as unknown as BackpropFilterAttrs;
      if (a.dataFormat !== 'NHWC') throw new Error('wasm Conv2DBackpropFilter supports NHWC only');
      const info = tf.backend_util.computeConv2DInfo(
        x.shape, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
      const [sh, sw] = [info.strideHeight, info.strideWidth];
      const [kh, kw] = [info.filterHeight, info.filterWidth];
      const [H, W] = [x.shape[1], x.shape[2]];
      const padT = info.padInfo.top;
      const padL = info.padInfo.left;
      const padB = (info.outHeight - 1) * sh + kh - H - padT;
      const padR = (info.outWidth - 1) * sw + kw - W - padL;
      return tf.tidy(() => {
        let xt = tf.transpose(x, [3, 1, 2, 0]);
        if (padB < 0 || padR < 0) {
          xt = tf.slice(xt, [0, 0, 0, 0], [-1, H + Math.min(padB, 0), W + Math.min(padR, 0), -1]);
        }
        const dyt = tf.transpose(dy, [1, 2, 0, 3]);
        const out = tf.conv2d(xt as tf.Tensor4D, dyt as tf.Tensor4D, 1,
          [[0, 0], [padT, Math.max(padB, 0)], [padL, Math.max(padR, 0)], [0, 0]], 'NHWC', [sh, sw]);
        return tf.transpose(out, [1, 2, 0, 3]);
      });
    },
  });
}

interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const pair = (v: [number, number] | number): [number, number] => (Array.isArray(v) ? v : [v, v]);

/**
 * tfjs-backend-wasm 4.22.0's MaxPoolGrad gives wrong gradients when there is more than one
 * channel (measured against native and cpu: errors of order 1 on unit inputs). For the
 * non-overlapping windows ml/ uses (filter = stride, no padding) the gradient is
 * dx = [x == up(y)] · up(dy), with up = nearest repeat; other cases go to the shipped kernel.
 * Ties pass the gradient to every tied input; after a ReLU the tied zeros get no gradient anyway.
 */
function replaceWasmMaxPoolGrad(): void {
  const shipped = tf.getKernel('MaxPoolGrad', 'wasm');
  if (!shipped || (shipped as { cc2dReplaced?: boolean }).cc2dReplaced) return;
  tf.unregisterKernel('MaxPoolGrad', 'wasm');
  const config: tf.KernelConfig & { cc2dReplaced: boolean } = {
    kernelName: 'MaxPoolGrad',
    backendName: 'wasm',
    cc2dReplaced: true,
    kernelFunc: (args) => {
      const { dy, input } = args.inputs as { dy: tf.Tensor4D; input: tf.Tensor4D };
      const a = args.attrs as unknown as MaxPoolGradAttrs;
      const [fh, fw] = pair(a.filterSize);
      const [sh, sw] = pair(a.strides);
      const [N, H, W, C] = input.shape;
      const [oh, ow] = [dy.shape[1], dy.shape[2]];
      const noPadding = a.pad === 'valid' || a.pad === 0 || (a.pad === 'same' && H % sh === 0 && W % sw === 0);
      if (fh !== sh || fw !== sw || !noPadding || oh * sh > H || ow * sw > W) {
        return shipped.kernelFunc(args);
      }
      return tf.tidy(() => {
        const up = (t: tf.Tensor4D) =>
          tf.reshape(tf.tile(tf.reshape(t, [N, oh, 1, ow, 1, C]), [1, 1, sh, 1, sw, 1]), [N, oh * sh, ow * sw, C]);
        const xCrop = tf.slice(input, [0, 0, 0, 0], [N, oh * sh, ow * sw, C]);
        const y = tf.maxPool(input, [fh, fw], [sh, sw], 'valid');
        const dx = tf.mul(tf.cast(tf.equal(xCrop, up(y)), 'float32'), up(dy));
        return tf.pad(dx, [[0, 0], [0, H - oh * sh], [0, W - ow * sw], [0, 0]]);
      });
    },
  };
  tf.registerKernel(config);
}
