/**
 * Conv2DBackpropFilter for the WASM backend, which ships no filter-gradient kernel, built only
 * from kernels WASM has (Transpose, Slice, Conv2D with dilation and explicit padding).
 * dW[kh,kw,ci,co] = Σ x[n, oh·s+kh−padT, ow·s+kw−padL, ci]·dy[n,oh,ow,co] is a convolution in
 * which input channels act as the batch and the batch acts as channels (see ../shared/docs/infra.md §3.4).
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
