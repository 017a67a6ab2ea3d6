/**
 * TPL inference: network forward in chunks of images, then offset voting (codec) per image.
 * Peak memory is bounded by one chunk's activations. The result equals `decodeVoting` on the
 * full maps (tested); only the heatmap channels are computed at full resolution and only the
 * vote candidates' indices and offsets are read back from the backend.
 */
import * as tf from '@tensorflow/tfjs';
import { decodeCheckpoint } from '../core/checkpoint';
import { ParamStore } from '../core/params';
import { Prng } from '../core/prng';
import type { Profile } from '../profiles';
import type { GrayImage, PointYX } from '../types';
import { diskRadius, voteCandidates, voteConfidence, voteOne } from './codec';
import { defineTplNetwork, tplFeatures, tplHeadAtRows, tplHeatLogits } from './network';
import { TPL_WEIGHTS_KIND, type TplWeightsMeta } from './trainer';

export interface TplPredictorInput {
  profile: Profile;
  /** Bytes from the TPL trainer's `exportWeights()`. */
  weights: Uint8Array;
  landmarkCount: number;
  /**
   * Images per forward pass. Default: about 110 MB of peak activations per chunk, i.e.
   * clamp(floor(192²·0.25 / (S²·width)), 1, 16): 4 at the cpu profile (≈ 108 MB measured),
   * 1 at the paper profile (≈ 440 MB measured), 16 at smoke.
   */
  chunkSize?: number;
}

export interface PredictLandmarksInput extends TplPredictorInput {
  /** Images at inputSize × inputSize, intensities in [0, 1]. */
  images: GrayImage[];
}

export interface PredictedLandmarks {
  /** [y, x] per landmark on the inputSize grid. */
  landmarks: PointYX[];
  /** Winning vote count per landmark (higher = more confident). */
  votes: number[];
  /** Per landmark: heatmap peak near the winner, vote agreement and their combination (codec's voteConfidence). */
  peak: number[];
  agreement: number[];
  confidence: number[];
}

export function defaultChunkSize(profile: Profile): number {
  const s = profile.inputSize;
  return Math.min(16, Math.max(1, Math.floor((192 * 192 * 0.25) / (s * s * profile.tpl.width))));
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A loaded TPL network: predict as many images as needed, then dispose. */
export interface TplPredictor {
  /** Landmarks, vote counts and confidences per image, in input order; yields to the event loop between chunks. */
  predictDetailed(images: readonly GrayImage[]): Promise<PredictedLandmarks[]>;
  /** [y, x] landmarks per image on the inputSize grid, in input order. */
  predict(images: readonly GrayImage[]): Promise<PointYX[][]>;
  dispose(): void;
}

/**
 * Loads the weights once (building the network costs ~0.1 s at the cpu profile and ~1.6 s at
 * the paper profile), for callers that predict in several calls (e.g. between heartbeats).
 */
export function createTplPredictor(input: TplPredictorInput): TplPredictor {
  const { profile, landmarkCount: k } = input;
  const size = profile.inputSize;
  const chunk = input.chunkSize ?? defaultChunkSize(profile);
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`predictLandmarks: chunkSize must be a positive integer, got ${chunk}`);
  if (!Number.isInteger(k) || k < 1) throw new Error(`predictLandmarks: landmarkCount must be a positive integer, got ${k}`);
  const radius = diskRadius(size, profile.tpl.radiusFraction);
  const ckpt = decodeCheckpoint(input.weights);
  if (ckpt.kind !== TPL_WEIGHTS_KIND) throw new Error(`predictLandmarks: weights kind is "${ckpt.kind}", expected "${TPL_WEIGHTS_KIND}"`);
  const m = ckpt.meta as unknown as TplWeightsMeta;
  const expect: Array<[keyof TplWeightsMeta, number]> = [['landmarkCount', k], ['width', profile.tpl.width], ['inputSize', size], ['radius', radius]];
  for (const [key, v] of expect) {
    if (m[key] !== v) throw new Error(`predictLandmarks: weights have ${key} = ${String(m[key])}, the inputs say ${v}`);
  }

  // The seeded init is overwritten by `load`; its seed does not matter.
  const params = new ParamStore(Prng.fromSeed(0));
  try {
    defineTplNetwork(params, { width: profile.tpl.width, landmarkCount: k });
    params.load(ckpt.params);
  } catch (err) {
    params.dispose();
    throw err;
  }
  const hw = size * size;
  const candidates = Math.min(voteCandidates(radius), hw);
  const score = new Int32Array(hw);
  const layouts = new Map<number, { rowBase: Int32Array; pick: Int32Array }>();
  /** Index arrays for a chunk of n images (cached per n). */
  const layout = (n: number) => {
    let l = layouts.get(n);
    if (!l) {
      const rowBase = new Int32Array(n * k);
      const pick = new Int32Array(n * k * candidates);
      for (let r = 0; r < n * k; r++) {
        rowBase[r] = Math.floor(r / k) * hw;
        for (let c = 0; c < candidates; c++) pick[r * candidates + c] = (r * candidates + c) * 3 * k + k + (r % k);
      }
      l = { rowBase, pick };
      layouts.set(n, l);
    }
    return l;
  };
  let disposed = false;
  let busy = false;

  async function predictDetailed(images: readonly GrayImage[]): Promise<PredictedLandmarks[]> {
    if (disposed) throw new Error('TPL predictor: predict() after dispose()');
    if (busy) throw new Error('TPL predictor: predict() is already running');
    images.forEach((img, i) => {
      if (img.height !== size || img.width !== size || img.data.length !== size * size) {
        throw new Error(`predictLandmarks: images[${i}] is ${img.height}×${img.width} (${img.data.length} values), expected ${size}×${size}`);
      }
    });
    busy = true;
    const results: PredictedLandmarks[] = [];
    try {
      for (let start = 0; start < images.length; start += chunk) {
        const batch = images.slice(start, start + chunk);
        const n = batch.length;
        const x = new Float32Array(n * hw);
        batch.forEach((img, i) => x.set(img.data, i * hw));
        // Voting needs, per landmark, the top-C heatmap pixels and the offsets there only: the
        // heatmap channels are computed in full, the candidates selected natively (TopK keeps the
        // lower index among equal values, like topKIndices; unsorted output is ~2× faster, and
        // the set is the same), and the offset heads evaluated at the candidate pixels only.
        const [idxT, heatT, oxT, oyT] = tf.tidy(() => {
          const feats = tplFeatures(params, tf.tensor4d(x, [n, size, size, 1]));
          const heat = tf.sigmoid(tf.reshape(tf.transpose(tplHeatLogits(params, feats, k), [0, 3, 1, 2]), [n * k, hw]));
          const { indices, values } = tf.topk(heat, candidates, false);
          // Candidate c of row r = b·K + j sits at feature row b·HW + indices[r, c]; its x-offset is
          // column K + j of the head output at that row, its y-offset column 2K + j.
          const { rowBase, pick } = layout(n);
          const rows = tf.reshape(tf.add(indices, tf.tensor2d(rowBase, [n * k, 1], 'int32')), [-1]) as tf.Tensor1D;
          const head = tf.reshape(tplHeadAtRows(params, feats, rows), [-1]);
          const pickX = tf.tensor1d(pick, 'int32');
          return [indices, values, tf.gather(head, pickX), tf.gather(head, tf.add(pickX, tf.scalar(k, 'int32')))];
        });
        let idx: Int32Array;
        let hv: Float32Array;
        let ox: Float32Array;
        let oy: Float32Array;
        try {
          [idx, hv, ox, oy] = (await Promise.all([idxT.data(), heatT.data(), oxT.data(), oyT.data()])) as [Int32Array, Float32Array, Float32Array, Float32Array];
        } finally {
          tf.dispose([idxT, heatT, oxT, oyT]);
        }
        for (let b = 0; b < n; b++) {
          const r: PredictedLandmarks = { landmarks: [], votes: [], peak: [], agreement: [], confidence: [] };
          for (let j = 0; j < k; j++) {
            const r0 = (b * k + j) * candidates;
            const cIdx = idx.subarray(r0, r0 + candidates);
            const cOx = ox.subarray(r0, r0 + candidates);
            const cOy = oy.subarray(r0, r0 + candidates);
            const v = voteOne(cIdx, cOx, cOy, size, size, radius, score);
            const c = voteConfidence(cIdx, cOx, cOy, hv.subarray(r0, r0 + candidates), size, radius, v.landmark);
            r.landmarks.push(v.landmark);
            r.votes.push(v.votes);
            r.peak.push(c.peak);
            r.agreement.push(c.agreement);
            r.confidence.push(c.confidence);
          }
          results.push(r);
        }
        await yieldToEventLoop();
      }
    } finally {
      busy = false;
    }
    return results;
  }

  return {
    predictDetailed,
    async predict(images) {
      return (await predictDetailed(images)).map((r) => r.landmarks);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      params.dispose();
    },
  };
}

/** One-shot: loads the weights, predicts every image (in chunks), frees the network. */
export async function predictLandmarksDetailed(input: PredictLandmarksInput): Promise<PredictedLandmarks[]> {
  const predictor = createTplPredictor(input);
  try {
    return await predictor.predictDetailed(input.images);
  } finally {
    predictor.dispose();
  }
}

/** [y, x] landmarks per image on the inputSize grid, in input order. */
export async function predictLandmarks(input: PredictLandmarksInput): Promise<PointYX[][]> {
  return (await predictLandmarksDetailed(input)).map((r) => r.landmarks);
}
