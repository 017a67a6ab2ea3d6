/**
 * The refinement network: a small U-Net over one P×P patch → P×P logits (a softmax over the
 * patch is where the landmark is).
 *
 *   input [N, P, P, 1] in [0, 1] → (v − 0.5)/0.5
 *   e0 = 2 × conv3 → c      (P)     'shared' mode: + the landmark's learnt bias after the first conv
 *   e1 = pool, 2 × conv3 → 2c   (/2)
 *   e2 = pool, 2 × conv3 → 4c   (/4)
 *   e3 = pool, 2 × conv3 → 4c   (/8)
 *   d2 = conv3(concat[e2, up(e3)]) → 4c, d1 = … → 2c, d0 = … → c
 *   out = conv1(d0) → 1 channel ('shared') or K channels ('heads', the landmark's is used)
 * Every conv has a bias and a ReLU (no normalisation: patches are small, batches are many).
 */
import * as tf from '@tensorflow/tfjs';
import { conv2d, maxPool2, relu, upsample2 } from '../core/layers';
import type { ParamStore } from '../core/params';
import type { RefineLandmarkMode } from './config';

export interface RefineNetworkConfig {
  channels: number;
  landmarkCount: number;
  landmarkMode: RefineLandmarkMode;
}

const ENCODER = [['e0', 1], ['e1', 2], ['e2', 4], ['e3', 4]] as const;
const DECODER = [['d2', 'e2'], ['d1', 'e1'], ['d0', 'e0']] as const;

function widthOf(name: string, c: number): number {
  const level = [...ENCODER].find(([n]) => n === name.replace('d', 'e'));
  return level![1] * c;
}

export function defineRefineNetwork(p: ParamStore, cfg: RefineNetworkConfig): void {
  const { channels: c, landmarkCount: k } = cfg;
  if (!Number.isInteger(k) || k < 1) throw new Error(`refine network: landmarkCount must be a positive integer, got ${k}`);
  tf.tidy(() => {
    let cin = 1;
    for (const [name, m] of ENCODER) {
      p.conv(`${name}/c0`, 3, 3, cin, m * c);
      p.conv(`${name}/c1`, 3, 3, m * c, m * c);
      cin = m * c;
    }
    for (const [name, skip] of DECODER) {
      const cout = widthOf(name, c);
      p.conv(`${name}/c0`, 3, 3, cin + widthOf(skip, c), cout);
      cin = cout;
    }
    p.conv('out', 1, 1, cin, cfg.landmarkMode === 'heads' ? k : 1);
    if (cfg.landmarkMode === 'shared') p.constant('landmark/bias', [k, c], 0);
  });
}

/**
 * Logits [N, P·P] of the landmark `landmarks[i]` (int32 [N]) in patch i. Builds ops only; the
 * caller owns the tidy scope.
 */
export function refineLogits(p: ParamStore, cfg: RefineNetworkConfig, patches: tf.Tensor4D, landmarks: tf.Tensor1D): tf.Tensor2D {
  const [n, h, w] = patches.shape;
  const oneHot = tf.oneHot(landmarks, cfg.landmarkCount).toFloat() as tf.Tensor2D;
  let x = tf.div(tf.sub(patches, 0.5), 0.5) as tf.Tensor4D;
  const skips = new Map<string, tf.Tensor4D>();
  for (const [name] of ENCODER) {
    if (name !== 'e0') x = maxPool2(x);
    x = conv2d(p, `${name}/c0`, x);
    if (name === 'e0' && cfg.landmarkMode === 'shared') {
      const bias = tf.matMul(oneHot, p.get('landmark/bias') as tf.Tensor2D);
      x = tf.add(x, tf.reshape(bias, [n, 1, 1, -1]));
    }
    x = relu(conv2d(p, `${name}/c1`, relu(x)));
    skips.set(name, x);
  }
  for (const [name, skip] of DECODER) {
    x = relu(conv2d(p, `${name}/c0`, tf.concat([skips.get(skip)!, upsample2(x)], 3)));
  }
  const out = conv2d(p, 'out', x);
  if (cfg.landmarkMode === 'shared') return tf.reshape(out, [n, h * w]);
  // 'heads': the channel of each patch's landmark.
  const picked = tf.sum(tf.mul(out, tf.reshape(oneHot, [n, 1, 1, cfg.landmarkCount])), 3);
  return tf.reshape(picked, [n, h * w]);
}
