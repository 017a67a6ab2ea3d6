import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { registerNativeTrainingKernels } from '../../infra/native-training-kernels';
import { batchNorm, BatchNormStats, FAST_KERNELS, relu } from '../../ml/core/layers';
import { ParamStore } from '../../ml/core/params';

/** Values, input/γ/β gradients and the running statistics of one training-mode BatchNorm + ReLU. */
function bnReluStep(): Float32Array[] {
  return tf.tidy(() => {
    const p = new ParamStore(null);
    p.batchNorm('bn', 5);
    try {
      p.get('bn/gamma').assign(tf.tensor1d([1, 0.5, 2, -1, 1.5]));
      p.get('bn/beta').assign(tf.tensor1d([0, 0.1, -0.2, 0.3, 0]));
      const x = tf.randomNormal([3, 6, 7, 5], 0.4, 1.3, 'float32', 7) as tf.Tensor4D;
      const dy = tf.randomNormal([3, 6, 7, 5], 0, 1, 'float32', 8);
      const stats = new BatchNormStats();
      const loss = () => tf.sum(tf.mul(relu(batchNorm(p, 'bn', x, { training: true, bnStats: stats })), dy)) as tf.Scalar;
      const { value, grads } = tf.variableGrads(loss, [p.get('bn/gamma'), p.get('bn/beta')]);
      const dx = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(relu(batchNorm(p, 'bn', xx as tf.Tensor4D, { training: true })), dy)))(x);
      stats.apply();
      return [value, dx, ...Object.values(grads), p.get('bn/mean'), p.get('bn/var')].map((t) => t.dataSync() as Float32Array);
    } finally {
      p.dispose();
    }
  });
}

describe.runIf(tf.getBackend() === 'tensorflow')('native training kernels', () => {
  it('give the pure-tfjs BatchNorm and ReLU results (values, gradients, running statistics) up to rounding', () => {
    registerNativeTrainingKernels();
    const native = bnReluStep();
    for (const name of Object.values(FAST_KERNELS)) tf.unregisterKernel(name, 'tensorflow');
    try {
      const composite = bnReluStep();
      native.forEach((a, i) => {
        const b = composite[i]!;
        const scale = Math.max(...Array.from(b, Math.abs));
        const diff = Math.max(...Array.from(a, (v, j) => Math.abs(v - b[j]!)));
        expect(scale, `output ${i}`).toBeGreaterThan(1e-3);
        expect(diff / scale, `output ${i}`).toBeLessThan(1e-5);
      });
    } finally {
      registerNativeTrainingKernels();
    }
  });
});
