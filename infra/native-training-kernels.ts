/**
 * Training kernels for the native `tensorflow` backend that tfjs-node does not offer, each one
 * TensorFlow op in place of a chain of small tfjs kernels (ml/core/layers uses them when the
 * active backend has them and its pure-tfjs composites otherwise):
 *  - Cc2dReluGrad: TF ReluGrad, dy·[y > 0] (exact; tfjs' Sign, used by the composite, is a slow
 *    scalar loop in TF);
 *  - Cc2dBatchNormTrain / Cc2dBatchNormTrainGrad: TF FusedBatchNorm / FusedBatchNormGrad with
 *    is_training (oneDNN on x86): batch statistics, normalisation and the full backward in one op
 *    each, instead of about twenty kernels per layer. Same maths, float rounding may differ.
 */
import * as tf from '@tensorflow/tfjs';
import { FAST_KERNELS } from '../ml/core/layers';

/** The slice of tfjs-node's backend these kernels use. */
interface NativeBackend {
  binding: { TF_ATTR_FLOAT: number; TF_ATTR_STRING: number; TF_ATTR_BOOL: number; TF_ATTR_TYPE: number; TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: unknown[], inputs: tf.TensorInfo[]): tf.Tensor;
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: tf.TensorInfo[], numOutputs: number): tf.Tensor[];
}

function bnAttrs(b: NativeBackend, epsilon: number): unknown[] {
  return [
    { name: 'T', type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT },
    { name: 'epsilon', type: b.binding.TF_ATTR_FLOAT, value: epsilon },
    { name: 'data_format', type: b.binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: b.binding.TF_ATTR_BOOL, value: true },
  ];
}

export function registerNativeTrainingKernels(): void {
  const backendName = 'tensorflow';
  if (tf.getKernel(FAST_KERNELS.reluGrad, backendName)) return;
  tf.registerKernel({
    kernelName: FAST_KERNELS.reluGrad,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const b = backend as unknown as NativeBackend;
      const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
      return b.executeSingleOutput('ReluGrad', [{ name: 'T', type: b.binding.TF_ATTR_TYPE, value: b.binding.TF_FLOAT }], [dy, y]);
    },
  });
  // Outputs: y, batch mean, unbiased batch variance (n/(n−1)), and the two saved statistics
  // the gradient op takes back.
  tf.registerKernel({
    kernelName: FAST_KERNELS.batchNormTrain,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as NativeBackend;
      const { x, scale, offset } = inputs as { x: tf.TensorInfo; scale: tf.TensorInfo; offset: tf.TensorInfo };
      const empty = tf.tensor1d([], 'float32');
      try {
        return b.executeMultipleOutputs('FusedBatchNorm', bnAttrs(b, attrs!.epsilon as number), [x, scale, offset, empty, empty], 5);
      } finally {
        empty.dispose();
      }
    },
  });
  // Outputs: dx, dscale, doffset.
  tf.registerKernel({
    kernelName: FAST_KERNELS.batchNormTrainGrad,
    backendName,
    kernelFunc: ({ inputs, attrs, backend }) => {
      const b = backend as unknown as NativeBackend;
      const { dy, x, scale, saved1, saved2 } = inputs as Record<'dy' | 'x' | 'scale' | 'saved1' | 'saved2', tf.TensorInfo>;
      const out = b.executeMultipleOutputs('FusedBatchNormGrad', bnAttrs(b, attrs!.epsilon as number), [dy, x, scale, saved1, saved2], 5);
      tf.dispose(out.slice(3));
      return out.slice(0, 3);
    },
  });
}
