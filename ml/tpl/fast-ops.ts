/**
 * Differentiable ops with hand-written gradients, for speed on the native backend.
 *
 * tfjs's generic gradients are correct but cost many full-size kernels: InstanceNorm built
 * from `tf.moments` back-propagates through every broadcast (mul, div, sum, neg, …); with
 * ReLU's Step-based gradient (ml/core's `relu` has the two-kernel one) these were more than half
 * of a TPL training step at 192² (measured with tf.profile). The forward values are the same
 * ops as ml/core's `instanceNorm` + ReLU.
 */
import * as tf from '@tensorflow/tfjs';

const NORM_EPS = 1e-5;

type UnaryForward = (x: tf.Tensor, save: tf.GradSaveFunc) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor;
};

/**
 * `tf.customGrad` for a one-input op, typed. Tensors the forward closes over (targets, masks)
 * get no gradient. Only tensors passed to `save` survive until the backward pass.
 */
export function unaryCustomGrad(forward: UnaryForward): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => forward(args[0] as tf.Tensor, args[1] as tf.GradSaveFunc));
}

/**
 * ReLU(InstanceNorm(x)), InstanceNorm per sample and channel over H×W, eps 1e−5, no affine.
 * With y = (x − μ)·r, r = 1/sqrt(σ² + eps) and g = dy·[y > 0]:
 *   dx = r · (g − mean_HW(g) − y · mean_HW(g·y)).
 */
export function instanceNormRelu(x: tf.Tensor4D): tf.Tensor4D {
  const f = unaryCustomGrad((input, save) => {
    const { mean, variance } = tf.moments(input, [1, 2], true);
    const rstd = tf.rsqrt(tf.add(variance, NORM_EPS));
    const y = tf.mul(tf.sub(input, mean), rstd);
    const out = tf.relu(y);
    save([y, out, rstd]);
    return {
      value: out,
      gradFunc: (dy, saved) => {
        const [ys, outs, r] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const g = tf.mul(dy, tf.sign(outs));
        const gMean = tf.mean(g, [1, 2], true);
        const gyMean = tf.mean(tf.mul(g, ys), [1, 2], true);
        return tf.mul(tf.sub(tf.sub(g, gMean), tf.mul(ys, gyMean)), r);
      },
    };
  });
  return f(x) as tf.Tensor4D;
}

/**
 * Rows of `x` (axis 0) at `indices` (int32, 1-D). Gradient: the rows scattered back into zeros
 * of x's shape with ScatterNd (tfjs-node has no kernel for tf.gather's generic gradient,
 * UnsortedSegmentSum). Indices must be DISTINCT: ScatterNd would sum duplicates, but in an
 * unspecified order. `indices` gets no gradient.
 */
export function gatherRows(x: tf.Tensor, indices: tf.Tensor1D): tf.Tensor {
  const f = unaryCustomGrad((input, save) => {
    save([indices]); // kept for the backward pass even if the caller's scope frees `indices`
    return {
      value: tf.gather(input, indices),
      gradFunc: (dy, saved) => tf.scatterND(tf.reshape(saved[0]!, [-1, 1]), dy, input.shape),
    };
  });
  return f(x);
}
