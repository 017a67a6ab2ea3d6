/**
 * Applies trained refinement weights: for each image and landmark, a patch of the fine image
 * centred on the current point, its softmax read back to a point (ml/refine/patches), repeated
 * `passes` times, each pass re-centred on the previous answer; with `maxMove`, a point whose answer
 * lies farther than that from its start keeps the start.
 */
import * as tf from '@tensorflow/tfjs';
import { yieldToEventLoop } from '../core/async';
import { decodeCheckpoint } from '../core/checkpoint';
import { ParamStore } from '../core/params';
import { Prng } from '../core/prng';
import type { GrayImage, PointYX } from '../types';
import type { RefineProfile } from './config';
import { defineRefineNetwork, refineLogits } from './network';
import { cutPatch, decodePatch, patchOrigin } from './patches';
import { REFINE_WEIGHTS_KIND, refineNetworkConfig, type RefineWeightsMeta } from './trainer';

export interface RefinePredictor {
  /** Refined points per image (fine grid), in input order; `points` are the starting points on the same grid. */
  refine(images: readonly GrayImage[], points: readonly PointYX[][]): Promise<PointYX[][]>;
  dispose(): void;
}

export function createRefinePredictor(input: { refine: RefineProfile; weights: Uint8Array; landmarkCount: number }): RefinePredictor {
  const { refine, landmarkCount: k } = input;
  const net = refineNetworkConfig(refine, k);
  const ckpt = decodeCheckpoint(input.weights);
  if (ckpt.kind !== REFINE_WEIGHTS_KIND) throw new Error(`refine predictor: weights kind is "${ckpt.kind}", expected "${REFINE_WEIGHTS_KIND}"`);
  const meta = ckpt.meta as unknown as RefineWeightsMeta;
  const want: RefineWeightsMeta = { ...net, inputSize: refine.inputSize, patch: refine.patch };
  for (const key of Object.keys(want) as Array<keyof RefineWeightsMeta>) {
    if (meta[key] !== want[key]) throw new Error(`refine predictor: weights have ${key} = ${String(meta[key])}, the settings say ${String(want[key])}`);
  }
  const params = new ParamStore(Prng.fromSeed(0));
  try {
    defineRefineNetwork(params, net);
    params.load(ckpt.params);
  } catch (err) {
    params.dispose();
    throw err;
  }
  const P = refine.patch;
  const s = refine.inputSize;
  return {
    async refine(images, points) {
      if (points.length !== images.length) throw new Error(`refine predictor: ${images.length} images but ${points.length} point lists`);
      images.forEach((img, i) => {
        if (img.height !== s || img.width !== s) throw new Error(`refine predictor: images[${i}] is ${img.height}×${img.width}, expected ${s}×${s}`);
        if (points[i]!.length !== k) throw new Error(`refine predictor: points[${i}] has ${points[i]!.length} landmarks, expected ${k}`);
      });
      const out = points.map((pts) => pts.map(([y, x]) => [y, x] as PointYX));
      const ids = new Int32Array(k).map((_v, j) => j);
      const x = new Float32Array(k * P * P);
      for (let pass = 0; pass < refine.passes; pass++) {
        for (let i = 0; i < images.length; i++) {
          const origins = out[i]!.map((p) => patchOrigin(p, P));
          origins.forEach((o, j) => cutPatch(images[i]!, o, P, x, j * P * P));
          const probs = tf.tidy(() => tf.softmax(refineLogits(params, net, tf.tensor4d(x, [k, P, P, 1]), tf.tensor1d(ids, 'int32'))));
          const data = (await probs.data()) as Float32Array;
          probs.dispose();
          origins.forEach((o, j) => {
            const q = decodePatch(data, j * P * P, P);
            out[i]![j] = [o[0] + q[0], o[1] + q[1]];
          });
          await yieldToEventLoop();
        }
      }
      const limit = refine.maxMove;
      if (limit !== undefined) {
        out.forEach((pts, i) => pts.forEach((p, j) => {
          const [y0, x0] = points[i]![j]!;
          if (Math.hypot(p[0] - y0, p[1] - x0) > limit) pts[j] = [y0, x0];
        }));
      }
      return out;
    },
    dispose: () => params.dispose(),
  };
}
