import { beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from '../../infra/wasm-training-kernels';

const require = createRequire(import.meta.url);

describe('wasm training kernels', () => {
  beforeAll(() => {
    setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep);
    registerWasmTrainingKernels();
  });

  it('max-pool gradient on multi-channel maps equals the cpu reference', async () => {
    for (const shape of [[1, 4, 4, 3], [2, 10, 14, 4], [1, 7, 9, 2]] as Array<[number, number, number, number]>) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + 0.3));
      const grads: Record<string, Float32Array> = {};
      for (const backend of ['cpu', 'wasm']) {
        await tf.setBackend(backend);
        grads[backend] = tf.tidy(() =>
          tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'))))(tf.tensor4d(x, shape)).dataSync() as Float32Array);
      }
      const diff = Math.max(...Array.from(grads.cpu!, (v, i) => Math.abs(v - grads.wasm![i]!)));
      expect(diff, shape.join('x')).toBeLessThan(1e-6);
      expect(Math.max(...grads.cpu!.map(Math.abs))).toBeGreaterThan(0.1);
    }
  });
});
