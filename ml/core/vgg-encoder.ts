/**
 * VGG19 (no batch norm) feature extractor returning the output of each of its five max-pools:
 * f0 (64·w ch, /2), f1 (128·w, /4), f2 (256·w, /8), f3 (512·w, /16), f4 (512·w, /32).
 * The reference initialises it from ImageNet; here it trains from scratch unless the caller
 * loads user-supplied weights into the same parameter names.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedArray, ParamStore } from './params';
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

/** Encoder-relative parameter names and shapes: `s{stage}c{conv}/w` [3, 3, cin, cout] and `/b` [cout]. */
export function vggEncoderShapes(inChannels: number, width: number): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  let cin = inChannels;
  VGG19_STAGES.forEach((stage, s) => {
    stage.forEach((c, i) => {
      const cout = scaled(c, width);
      shapes.set(`s${s}c${i}/w`, [3, 3, cin, cout]);
      shapes.set(`s${s}c${i}/b`, [cout]);
      cin = cout;
    });
  });
  return shapes;
}

/**
 * User-supplied VGG19 encoder weights (e.g. converted ImageNet weights) checked against the
 * encoder of a 1-channel network of `width`, named encoder-relative (an `enc/` prefix is
 * accepted), HWIO kernels in torchvision `features` order. A 3-channel (RGB) first kernel is
 * folded into the 1-channel input by summing over input channels (exact for a grey image
 * replicated to RGB). Every encoder parameter must be present; a missing, unknown or mis-shaped
 * one throws naming the layer. Returns the arrays under their encoder-relative names.
 */
export function checkVggBackbone(arrays: readonly NamedArray[], width: number): NamedArray[] {
  const expected = vggEncoderShapes(1, width);
  const byName = new Map(arrays.map((a) => [a.name.replace(/^enc\//, ''), a]));
  for (const name of byName.keys()) if (!expected.has(name)) throw new Error(`backbone weights have ${name}, which is no VGG19 encoder layer (expected names like s0c0/w, s4c3/b)`);
  const out: NamedArray[] = [];
  for (const [local, want] of expected) {
    const a = byName.get(local);
    if (!a) throw new Error(`backbone weights lack ${local}`);
    let { data, shape } = a;
    if (local === 's0c0/w' && shape.length === 4 && shape[2] === 3) {
      const [kh, kw, , cout] = shape as [number, number, number, number];
      const folded = new Float32Array(kh * kw * cout);
      for (let i = 0; i < kh * kw; i++) {
        for (let c = 0; c < 3; c++) for (let o = 0; o < cout; o++) folded[i * cout + o]! += data[(i * 3 + c) * cout + o]!;
      }
      data = folded;
      shape = [kh, kw, 1, cout];
    }
    if (shape.join('x') !== want.join('x')) throw new Error(`backbone weight ${local}: shape ${shape.join('x')} != ${want.join('x')} (width ${width})`);
    out.push({ name: local, shape: [...shape], data });
  }
  return out;
}

/** Overwrites the encoder under `prefix` with checked backbone weights (see `checkVggBackbone`). */
export function loadVggEncoderWeights(p: ParamStore, prefix: string, arrays: readonly NamedArray[], width: number): void {
  for (const a of checkVggBackbone(arrays, width)) {
    const v = p.get(`${prefix}/${a.name}`);
    tf.tidy(() => v.assign(tf.tensor(a.data, a.shape, 'float32')));
  }
}
