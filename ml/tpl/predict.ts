/**
 * TPL inference: network forward in chunks of images, then offset voting (codec) per image.
 * Peak memory is bounded by one chunk's output (chunk · 3K · S² floats, plus activations).
 */
import * as tf from '@tensorflow/tfjs';
import { decodeCheckpoint } from '../core/checkpoint';
import { ParamStore } from '../core/params';
import { Prng } from '../core/prng';
import type { Profile } from '../profiles';
import type { GrayImage, PointYX } from '../types';
import { decodeVotingDetailed, diskRadius } from './codec';
import { defineTplNetwork, splitTplOutput, tplForward } from './network';
import { TPL_WEIGHTS_KIND, type TplWeightsMeta } from './trainer';

export interface PredictLandmarksInput {
  profile: Profile;
  /** Bytes from the TPL trainer's `exportWeights()`. */
  weights: Uint8Array;
  /** Images at inputSize × inputSize, intensities in [0, 1]. */
  images: GrayImage[];
  landmarkCount: number;
  /** Images per forward pass (default 4). */
  chunkSize?: number;
}

export interface PredictedLandmarks {
  /** [y, x] per landmark on the inputSize grid. */
  landmarks: PointYX[];
  /** Winning vote count per landmark (higher = more confident). */
  votes: number[];
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Landmarks and vote counts per image, in input order. */
export async function predictLandmarksDetailed(input: PredictLandmarksInput): Promise<PredictedLandmarks[]> {
  const { profile, images, landmarkCount: k } = input;
  const size = profile.inputSize;
  const chunk = input.chunkSize ?? 4;
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`predictLandmarks: chunkSize must be a positive integer, got ${chunk}`);
  if (!Number.isInteger(k) || k < 1) throw new Error(`predictLandmarks: landmarkCount must be a positive integer, got ${k}`);
  images.forEach((img, i) => {
    if (img.height !== size || img.width !== size || img.data.length !== size * size) {
      throw new Error(`predictLandmarks: images[${i}] is ${img.height}×${img.width} (${img.data.length} values), expected ${size}×${size}`);
    }
  });
  const radius = diskRadius(size, profile.tpl.radiusFraction);
  const c = decodeCheckpoint(input.weights);
  if (c.kind !== TPL_WEIGHTS_KIND) throw new Error(`predictLandmarks: weights kind is "${c.kind}", expected "${TPL_WEIGHTS_KIND}"`);
  const m = c.meta as unknown as TplWeightsMeta;
  const expect: Array<[keyof TplWeightsMeta, number]> = [['landmarkCount', k], ['width', profile.tpl.width], ['inputSize', size], ['radius', radius]];
  for (const [key, v] of expect) {
    if (m[key] !== v) throw new Error(`predictLandmarks: weights have ${key} = ${String(m[key])}, the inputs say ${v}`);
  }

  // The seeded init is overwritten by `load`; its seed does not matter.
  const params = new ParamStore(Prng.fromSeed(0));
  const results: PredictedLandmarks[] = [];
  try {
    defineTplNetwork(params, { width: profile.tpl.width, landmarkCount: k });
    params.load(c.params);
    const plane = size * size;
    const perMap = k * plane;
    for (let start = 0; start < images.length; start += chunk) {
      const batch = images.slice(start, start + chunk);
      const n = batch.length;
      const x = new Float32Array(n * plane);
      batch.forEach((img, i) => x.set(img.data, i * plane));
      // [n, 3K, S, S]: per image, K heatmap planes (probabilities), then K x-offset, K y-offset planes.
      const planar = tf.tidy(() => {
        const out = splitTplOutput(tplForward(params, tf.tensor4d(x, [n, size, size, 1])), k);
        return tf.transpose(tf.concat([tf.sigmoid(out.heatLogits), out.offsetX, out.offsetY], 3), [0, 3, 1, 2]);
      });
      let data: Float32Array;
      try {
        data = (await planar.data()) as Float32Array;
      } finally {
        planar.dispose();
      }
      for (let i = 0; i < n; i++) {
        const base = i * 3 * perMap;
        const r = decodeVotingDetailed(
          data.subarray(base, base + perMap), data.subarray(base + perMap, base + 2 * perMap), data.subarray(base + 2 * perMap, base + 3 * perMap),
          size, size, radius, k,
        );
        results.push({ landmarks: r.landmarks, votes: r.votes });
      }
      await yieldToEventLoop();
    }
  } finally {
    params.dispose();
  }
  return results;
}

/** [y, x] landmarks per image on the inputSize grid, in input order. */
export async function predictLandmarks(input: PredictLandmarksInput): Promise<PointYX[][]> {
  return (await predictLandmarksDetailed(input)).map((r) => r.landmarks);
}
