/**
 * VGG19 (no batch norm) feature extractor returning the output of each of its five max-pools:
 * f0 (64·w ch, /2), f1 (128·w, /4), f2 (256·w, /8), f3 (512·w, /16), f4 (512·w, /32).
 * The reference initialises it from ImageNet; here it trains from scratch unless the caller
 * loads user-supplied weights into the same parameter names.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from './params';
import { conv2d, maxPool2, relu, scaled } from './layers';

const VGG19_STAGES = [
  [64, 64],
  [128, 128],
  [256, 256, 256, 256],
  [512, 512, 512, 512],
  [512, 512, 512, 512],
] as const;

export function vggChannels(width: number): number[] {
  return VGG19_STAGES.map((stage) => scaled(stage[0], width));
}

export function defineVggEncoder(p: ParamStore, prefix: string, inChannels: number, width: number): void {
  let cin = inChannels;
  VGG19_STAGES.forEach((stage, s) => {
    stage.forEach((c, i) => {
      const cout = scaled(c, width);
      p.conv(`${prefix}/s${s}c${i}`, 3, 3, cin, cout);
      cin = cout;
    });
  });
}

/**
 * Forward: the five max-pool outputs f0 … f4. Each conv + ReLU and each stage runs in its own
 * tidy scope, so a forward without gradient tape (inference) frees intermediates as it goes; under
 * a tape the backward pass keeps what it needs by itself. The outputs stay in the caller's scope.
 */
export function vggEncoder(p: ParamStore, prefix: string, x: tf.Tensor4D): tf.Tensor4D[] {
  const feats: tf.Tensor4D[] = [];
  let h = x;
  VGG19_STAGES.forEach((stage, s) => {
    const input = h;
    h = tf.tidy(() => {
      let t = input;
      stage.forEach((_c, i) => {
        const u = t;
        t = tf.tidy(() => relu(conv2d(p, `${prefix}/s${s}c${i}`, u)));
      });
      return maxPool2(t);
    });
    feats.push(h);
  });
  return feats;
}
