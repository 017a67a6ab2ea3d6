/**
 * Child-process probe for onednn.test.ts: selects the backend as every cc2d process does, runs one
 * convolution forward and backward, and prints the backend info as one JSON line. With
 * ONEDNN_VERBOSE=1 the oneDNN library logs each primitive it executes on stdout.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../infra/tf-backend';

const info = await initBackend();
const x = tf.ones([1, 8, 8, 4]) as tf.Tensor4D;
const w = tf.ones([3, 3, 4, 4]) as tf.Tensor4D;
const [dx, dw] = tf.grads((a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, 'same').sum())([x, w]);
dx!.dataSync();
dw!.dataSync();
console.log(`probe ${JSON.stringify(info)}`);
