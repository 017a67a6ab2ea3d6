/**
 * Training of the refinement network on pseudo-labels. Each step draws `batch` patches: an image
 * (the pseudo-labelled images and the template with its true landmarks, uniformly), a landmark,
 * and a centre displaced from its label uniformly in a disc of radius `jitter`, so the network
 * learns to point from wherever the coarse stage landed back to the label. The loss is the
 * softmax cross-entropy over the patch against a Gaussian of σ `sigma` at the label.
 *
 * Every draw comes from the data PRNG, which checkpoints hold, so N straight steps and N/2 +
 * resume + N/2 give the same batches. Step loop, loss check and checkpoint codec: ml/core/trainer.
 */
import * as tf from '@tensorflow/tfjs';
import { encodeCheckpoint } from '../core/checkpoint';
import { Fnv1a } from '../core/digest';
import { checkLabelMask } from '../core/label-mask';
import { CHECKPOINT_FORMAT, checkResumeMeta, createTrainer, initTraining, openCheckpoint } from '../core/trainer';
import type { GrayImage, PointYX, Trainer } from '../types';
import type { RefineProfile } from './config';
import { defineRefineNetwork, refineLogits, type RefineNetworkConfig } from './network';
import { cutPatch, patchOrigin, writeTarget } from './patches';

export const REFINE_TRAIN_KIND = 'cc2d-refine-train';
export const REFINE_WEIGHTS_KIND = 'cc2d-refine-weights';
const NAME = 'refine trainer';

export interface RefineTrainerInput {
  refine: RefineProfile;
  /** Pseudo-labelled training images on the fine grid (refine.inputSize²), intensities in [0, 1]. */
  images: GrayImage[];
  /** K points [y, x] per image on the fine grid (cell-index convention, may be fractional). */
  labels: PointYX[][];
  template: GrayImage;
  templateLandmarks: PointYX[];
  seed: number;
  checkpoint?: Uint8Array;
  /**
   * Per image and landmark, whether its label is trusted (same shape as `labels`); an untrusted
   * label is never sampled. Absent = every label is. The template's landmarks always are.
   */
  labelMask?: boolean[][];
}

/** Stored with the weights; the predictor checks it against its settings. */
export interface RefineWeightsMeta extends RefineNetworkConfig {
  inputSize: number;
  patch: number;
}

export function refineNetworkConfig(refine: RefineProfile, landmarkCount: number): RefineNetworkConfig {
  return { channels: refine.channels, landmarkCount, landmarkMode: refine.landmarkMode };
}

/** lr0 · γ^(number of decay steps ≤ step). */
export function refineLearningRate(refine: RefineProfile, step: number): number {
  return refine.lr * refine.lrGamma ** refine.lrDecaySteps.filter((s) => step >= s).length;
}

function check(input: RefineTrainerInput): void {
  const { refine, images, labels, template, templateLandmarks, seed } = input;
  const s = refine.inputSize;
  const k = templateLandmarks.length;
  if (k < 1) throw new Error(`${NAME}: templateLandmarks is empty`);
  if (labels.length !== images.length) throw new Error(`${NAME}: ${images.length} images but ${labels.length} label lists`);
  if (!Number.isFinite(seed)) throw new Error(`${NAME}: seed must be a finite number, got ${seed}`);
  if (refine.jitter > refine.patch / 2 - 2) throw new Error(`${NAME}: jitter ${refine.jitter} must be at most patch/2 − 2 = ${refine.patch / 2 - 2}`);
  [template, ...images].forEach((img, i) => {
    if (img.height !== s || img.width !== s || img.data.length !== s * s) throw new Error(`${NAME}: ${i === 0 ? 'template' : `images[${i - 1}]`} is ${img.height}×${img.width}, expected ${s}×${s} (refine.inputSize)`);
  });
  [templateLandmarks, ...labels].forEach((pts, i) => {
    const what = i === 0 ? 'templateLandmarks' : `labels[${i - 1}]`;
    if (pts.length !== k) throw new Error(`${NAME}: ${what} has ${pts.length} landmarks, expected K = ${k}`);
    for (const [y, x] of pts) if (!(Number.isFinite(y) && Number.isFinite(x))) throw new Error(`${NAME}: ${what} has a non-finite point [${y}, ${x}]`);
  });
  if (input.labelMask) checkLabelMask(NAME, input.labelMask, labels.length, k);
}

function digest(input: RefineTrainerInput): string {
  const h = new Fnv1a();
  for (const img of [...input.images, input.template]) h.image(img);
  for (const pts of [...input.labels, input.templateLandmarks]) {
    h.word(pts.length);
    for (const [y, x] of pts) h.float(y).float(x);
  }
  h.labelMask(input.labelMask);
  return h.digest(input.images.length);
}

export async function createRefineTrainer(input: RefineTrainerInput): Promise<Trainer> {
  check(input);
  const { refine, seed } = input;
  const k = input.templateLandmarks.length;
  const net = refineNetworkConfig(refine, k);
  const dataDigest = digest(input);
  const runFields = { ...net, inputSize: refine.inputSize, patch: refine.patch, batch: refine.batch, jitter: refine.jitter, sigma: refine.sigma, seed };
  const c = input.checkpoint ? openCheckpoint(NAME, input.checkpoint, REFINE_TRAIN_KIND, (meta) => checkResumeMeta(meta, runFields, ['dataDigest', dataDigest])) : undefined;
  const state = initTraining(seed, c, refine.weightDecay, (p) => defineRefineNetwork(p, net));
  const { params, dataPrng } = state;
  const images = [...input.images, input.template];
  const labels = [...input.labels, input.templateLandmarks];
  const trusted = (i: number, j: number) => input.labelMask?.[i]?.[j] !== false;
  const { patch: P, batch: B } = refine;
  const xBuf = new Float32Array(B * P * P);
  const tBuf = new Float32Array(B * P * P);
  const ids = new Int32Array(B);
  return createTrainer({
    name: NAME,
    checkpointKind: REFINE_TRAIN_KIND,
    totalSteps: refine.steps,
    state,
    partNames: ['ce'],
    learningRate: (step) => refineLearningRate(refine, step),
    planStep: () => {
      for (let b = 0; b < B; b++) {
        let i: number;
        let j: number;
        // Untrusted labels are drawn again (the template's are always trusted, so this ends).
        do {
          i = dataPrng.int(images.length);
          j = dataPrng.int(k);
        } while (!trusted(i, j));
        const r = refine.jitter * Math.sqrt(dataPrng.next());
        const a = 2 * Math.PI * dataPrng.next();
        const label = labels[i]![j]!;
        const origin = patchOrigin([label[0] + r * Math.sin(a), label[1] + r * Math.cos(a)], P);
        cutPatch(images[i]!, origin, P, xBuf, b * P * P);
        writeTarget([label[0] - origin[0], label[1] - origin[1]], P, refine.sigma, tBuf, b * P * P);
        ids[b] = j;
      }
      const xs = tf.tensor4d(xBuf, [B, P, P, 1]);
      const ts = tf.tensor2d(tBuf, [B, P * P]);
      const ls = tf.tensor1d(ids, 'int32');
      return {
        loss: () => {
          const ce = tf.mean(tf.neg(tf.sum(tf.mul(ts, tf.logSoftmax(refineLogits(params, net, xs, ls))), 1))) as tf.Scalar;
          return { total: ce, parts: tf.reshape(ce, [1]) };
        },
        dispose: () => tf.dispose([xs, ts, ls]),
      };
    },
    checkpointMeta: () => ({ format: CHECKPOINT_FORMAT, ...runFields, dataDigest }),
    exportWeights: async (step) => {
      const meta: RefineWeightsMeta = { ...net, inputSize: refine.inputSize, patch: P };
      return encodeCheckpoint({ kind: REFINE_WEIGHTS_KIND, step, prng: dataPrng.state(), params: await params.toArrays(), optimizer: { step: 0, slots: [] }, meta: { ...meta } });
    },
  });
}
