/**
 * Reproduces a native crash (not a test; run by hand): the filter gradient of a 1×1 convolution
 * with stride > 1 on the `tensorflow` backend (TF 2.21, oneDNN's MklConvCustomBackpropFilter)
 * writes outside its buffers. With glibc's checks on, the process dies within a few hundred calls:
 *   MALLOC_CHECK_=3 npx tsx bench/profiling/native-strided-1x1-grad.ts [h=12] [w=12] [k=1] [stride=2] [calls=400]
 * 2026-12-02, AMD EPYC, 400 calls each: k=1 crashed (exit 134/139) with stride 2 on 12×12 and
 * strides 2×3 and 3 on 12×15 (its stride-2 run on 12×15 happened to finish); k=3 with stride 2 and
 * 2×3, and k=1 with stride 1, ran clean. Without MALLOC_CHECK_ the corruption surfaces later,
 * in an unrelated malloc ("corrupted size vs. prev_size"): test/infra/backend-parity.test.ts hit
 * it about one run in six until its strided 1×1 case moved to the cpu reference. ml/core/layers.ts
 * computes such a convolution as a stride-1 1×1 conv of the subsampled input instead.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../infra/tf-backend';

const [h = '12', w = '12', k = '1', stride = '2', calls = '400'] = process.argv.slice(2);
const info = await initBackend();
for (let i = 0; i < Number(calls); i++) {
  tf.tidy(() => {
    const x = tf.randomNormal([1, Number(h), Number(w), 3]) as tf.Tensor4D;
    const grad = tf.grad((kernel: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x, kernel as tf.Tensor4D, Number(stride), 'valid'))));
    grad(tf.randomNormal([Number(k), Number(k), 3, 5])).dataSync();
  });
}
console.log(`${info.backend}: ${calls} filter gradients of a ${k}×${k} convolution, stride ${stride}, on ${h}×${w}: no crash`);
