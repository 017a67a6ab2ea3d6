/**
 * TPL training loop (docs/method.md#tpl-training): the multi-task U-Net trained on pseudo-labels.
 *
 * Each step's batch = `batchPseudo` pseudo-labelled images, drawn in a seeded shuffled order
 * (epoch after epoch over the list; a batch may straddle two epochs), + the template image with
 * its true landmarks. Adam with PyTorch-style L2 weight decay; lr = lr0 · γ^(number of
 * `lrDecaySteps` already reached). No augmentation (the reference builds a ColorJitter but never
 * uses it, docs/method.md#trap-tpl-unused).
 *
 * The loss is `tplLossSparse`: the heatmap channels at full resolution, the offset heads only at
 * disk pixels (same value and gradients as the dense `tplLoss`, tested; much less work).
 *
 * Checkpoints hold the weights, Adam state, the data PRNG state, the step and the data cursor
 * (the current epoch's order and position) plus a digest of the data, so N straight steps and
 * N/2 + resume + N/2 steps visit the same batches and give the same weights (bit-identical on
 * the native backend, tested). The step loop, loss check, yielding and checkpoint codec are
 * ml/core/trainer's.
 */
import * as tf from '@tensorflow/tfjs';
import { encodeCheckpoint } from '../core/checkpoint';
import { Fnv1a } from '../core/digest';
import { checkLabelMask } from '../core/label-mask';
import type { NamedArray, ParamStore } from '../core/params';
import type { Prng } from '../core/prng';
import { CHECKPOINT_FORMAT, checkResumeMeta, createTrainer, disposeTraining, initTraining, openCheckpoint } from '../core/trainer';
import { loadVggEncoderWeights } from '../core/vgg-encoder';
import type { StepPlan } from '../core/trainer';
import type { Profile } from '../profiles';
import type { GrayImage, PointYX, Trainer } from '../types';
import { diskRadius, encodeDiskEntries, maxDiskRows, writeHeatmapOffset } from './codec';
import type { DiskEntries } from './codec';
import { tplLossSparse } from './loss';
import { defineTplNetwork, TPL_ENCODER_PREFIX, tplFeatures, tplHeadAtRows, tplHeatLogits } from './network';

export const TPL_TRAIN_KIND = 'cc2d-tpl-train';
const NAME = 'TPL trainer';
export const TPL_WEIGHTS_KIND = 'cc2d-tpl-weights';

export interface TplTrainerInput {
  profile: Profile;
  /** Pseudo-labelled training images, each inputSize × inputSize, intensities in [0, 1]. */
  images: GrayImage[];
  /** Pseudo-labels per image: K [y, x] cells on the inputSize grid. */
  pseudoLabels: PointYX[][];
  /** The one labelled image, added to every batch with its true landmarks. */
  template: GrayImage;
  /** The template's K true landmarks [y, x] on the inputSize grid; K is taken from here. */
  templateLandmarks: PointYX[];
  seed: number;
  /** Bytes from `checkpoint()` of a run with the same inputs, to resume it. */
  checkpoint?: Uint8Array;
  /**
   * User-supplied VGG19 weights for the U-Net's encoder on a fresh start (ml/core/vgg-encoder
   * checkVggBackbone); the default is training from scratch. Ignored when resuming.
   */
  backboneWeights?: NamedArray[];
  /**
   * Which pseudo-labels train, [image][landmark] (absent: all). A false entry's heatmap channel
   * and offsets are left out of the loss for that image: the net learns nothing there, neither
   * the label nor its absence. The template's landmarks always train.
   */
  labelMask?: boolean[][];
}

/** Metadata stored with exported weights; `predictLandmarks` checks it against its inputs. */
export interface TplWeightsMeta {
  landmarkCount: number;
  width: number;
  inputSize: number;
  radius: number;
}

interface TrainMeta extends TplWeightsMeta {
  format: 1;
  seed: number;
  /** FNV-1a over images, pseudo-labels, template and its landmarks: a resume must see the same data. */
  dataDigest: string;
  imageCount: number;
  batchPseudo: number;
  epoch: number;
  order: number[];
  cursor: number;
}

function checkImage(what: string, img: GrayImage, size: number): void {
  if (img.height !== size || img.width !== size) {
    throw new Error(`createTplTrainer: ${what} is ${img.height}×${img.width}, expected ${size}×${size} (profile.inputSize)`);
  }
  if (img.data.length !== size * size) throw new Error(`createTplTrainer: ${what} has ${img.data.length} values, expected ${size * size}`);
}

function checkLandmarks(what: string, pts: readonly PointYX[], k: number, size: number): void {
  if (pts.length !== k) throw new Error(`createTplTrainer: ${what} has ${pts.length} landmarks, expected K = ${k}`);
  pts.forEach(([y, x], i) => {
    if (!Number.isFinite(y) || !Number.isFinite(x)) throw new Error(`createTplTrainer: ${what}[${i}] is not finite: [${y}, ${x}]`);
    if (y < 0 || y >= size || x < 0 || x >= size) throw new Error(`createTplTrainer: ${what}[${i}] = [${y}, ${x}] lies outside the ${size}×${size} grid`);
  });
}

/** FNV-1a (32-bit) over the training data (and the label mask, when there is one), as hex. */
export function digestTplData(images: readonly GrayImage[], labels: readonly PointYX[][], template: GrayImage, templateLandmarks: readonly PointYX[], labelMask?: readonly (readonly boolean[])[]): string {
  const h = new Fnv1a();
  for (const img of [...images, template]) h.image(img);
  for (const pts of [...labels, templateLandmarks]) {
    h.word(pts.length);
    for (const [y, x] of pts) h.float(y).float(x);
  }
  return h.labelMask(labelMask).digest(images.length);
}

/** lr0 · γ^(number of decay steps ≤ step), `step` counting completed updates. */
export function tplLearningRate(tpl: Profile['tpl'], step: number): number {
  const cuts = tpl.lrDecaySteps.filter((s) => step >= s).length;
  return tpl.lr * tpl.lrGamma ** cuts;
}

export async function createTplTrainer(input: TplTrainerInput): Promise<Trainer> {
  const { profile, images, pseudoLabels, template, templateLandmarks, seed } = input;
  const tpl = profile.tpl;
  const size = profile.inputSize;
  const k = templateLandmarks.length;
  if (k < 1) throw new Error('createTplTrainer: templateLandmarks is empty');
  if (images.length < 1) throw new Error('createTplTrainer: no pseudo-labelled images');
  if (pseudoLabels.length !== images.length) {
    throw new Error(`createTplTrainer: ${images.length} images but ${pseudoLabels.length} pseudo-label lists`);
  }
  if (!Number.isFinite(seed)) throw new Error(`createTplTrainer: seed must be a finite number, got ${seed}`);
  checkImage('template', template, size);
  checkLandmarks('templateLandmarks', templateLandmarks, k, size);
  images.forEach((img, i) => checkImage(`images[${i}]`, img, size));
  pseudoLabels.forEach((pts, i) => checkLandmarks(`pseudoLabels[${i}]`, pts, k, size));
  if (input.labelMask) checkLabelMask('createTplTrainer', input.labelMask, images.length, k);

  const radius = diskRadius(size, tpl.radiusFraction);
  const dataDigest = digestTplData(images, pseudoLabels, template, templateLandmarks, input.labelMask);
  const runFields = { landmarkCount: k, width: tpl.width, inputSize: size, radius, imageCount: images.length, batchPseudo: tpl.batchPseudo, seed };
  const c = input.checkpoint
    ? openCheckpoint(NAME, input.checkpoint, TPL_TRAIN_KIND, (meta) => checkResumeMeta(meta, runFields, ['dataDigest', dataDigest]))
    : undefined;
  const state = initTraining(seed, c, tpl.weightDecay, (p) => defineTplNetwork(p, { width: tpl.width, landmarkCount: k }));
  const { params, dataPrng } = state;
  try {
    if (!c && input.backboneWeights) loadVggEncoderWeights(params, TPL_ENCODER_PREFIX, input.backboneWeights, tpl.width);
  } catch (err) {
    disposeTraining(state);
    throw err;
  }
  const batches = tplBatches(input, dataPrng, radius, (c?.meta as TrainMeta | undefined) ?? { epoch: 0, order: [], cursor: 0 });
  return createTrainer({
    name: NAME,
    checkpointKind: TPL_TRAIN_KIND,
    totalSteps: tpl.steps,
    state,
    partNames: ['heat', 'l1x', 'l1y'],
    learningRate: (step) => tplLearningRate(tpl, step),
    planStep: () => tplStepPlan(params, batches.next(), k, tpl),
    checkpointMeta: (): TrainMeta => ({ format: CHECKPOINT_FORMAT, ...runFields, dataDigest, ...batches.cursor() }),
    exportWeights: async (step) => {
      const m: TplWeightsMeta = { landmarkCount: k, width: tpl.width, inputSize: size, radius };
      return encodeCheckpoint({
        kind: TPL_WEIGHTS_KIND, step, prng: dataPrng.state(),
        params: await params.toArrays(), optimizer: { step: 0, slots: [] },
        meta: { ...m },
      });
    },
  });
}

export interface DataCursor {
  epoch: number;
  order: number[];
  cursor: number;
}

export interface TplBatch {
  /** Batch size: the pseudo-labelled images + the template. */
  size: number;
  inputSize: number;
  /** Images [B, S, S, 1], the template last. */
  images: Float32Array;
  /** Heatmap targets [B, S, S, K]. */
  heat: Float32Array;
  /** Offset targets at the disk pixels. */
  disk: DiskEntries;
  /** With a label mask: 1 where the (image, landmark) trains, else 0, [B, 1, 1, K]. */
  heatWeight?: Float32Array;
}

/**
 * The batch stream: `batchPseudo` images in a shuffled order, epoch after epoch (a batch may
 * straddle two), plus the template with its true landmarks. Exported for its test.
 */
export function tplBatches(input: TplTrainerInput, dataPrng: Prng, radius: number, start: DataCursor) {
  const { profile, images, pseudoLabels, template, templateLandmarks, labelMask } = input;
  const size = profile.inputSize;
  const k = templateLandmarks.length;
  const plane = size * size;
  const perImage = plane * k;
  let { epoch, cursor } = start;
  let order = [...start.order];
  // The template's targets never change: encode them once, NHWC, for one image.
  const templateHeat = new Float32Array(perImage);
  writeHeatmapOffset(templateLandmarks, size, size, radius, { heatmap: templateHeat }, { base: 0, rowStride: size * k, colStride: k, chanStride: 1 });
  // The image and heatmap-target buffers are allocated once and reused: fresh B·S²·K-float
  // arrays per step cost tens of ms of allocation, page faults and GC at 192² (measured). Safe
  // because each step's tensors are made (copied) from them before the next step refills them.
  // Offset targets are sparse (disk pixels only, see tplLossSparse).
  const batchSize = profile.tpl.batchPseudo + 1;
  const xBuf = new Float32Array(batchSize * plane);
  const heatBuf = new Float32Array(batchSize * perImage);
  // One row count for every batch: the offset head's kernels see one shape (codec.ts).
  const diskRows = maxDiskRows(batchSize, size, size, radius, k);
  // Only with a mask, so that training without one runs exactly the kernels it always did.
  const weightBuf = labelMask ? new Float32Array(batchSize * k) : undefined;

  function nextIndices(): number[] {
    const out: number[] = [];
    for (let b = 0; b < profile.tpl.batchPseudo; b++) {
      if (cursor >= order.length) {
        order = dataPrng.shuffle(images.map((_img, i) => i));
        cursor = 0;
        epoch += 1;
      }
      out.push(order[cursor++]!);
    }
    return out;
  }

  return {
    cursor: (): DataCursor => ({ epoch, order: [...order], cursor }),
    next(): TplBatch {
      const indices = nextIndices();
      heatBuf.fill(0);
      indices.forEach((idx, i) => {
        xBuf.set(images[idx]!.data, i * plane);
        writeHeatmapOffset(pseudoLabels[idx]!, size, size, radius, { heatmap: heatBuf }, { base: i * perImage, rowStride: size * k, colStride: k, chanStride: 1 }, labelMask?.[idx]);
        labelMask?.[idx]!.forEach((use, j) => (weightBuf![i * k + j] = use ? 1 : 0));
      });
      xBuf.set(template.data, indices.length * plane);
      heatBuf.set(templateHeat, indices.length * perImage);
      weightBuf?.fill(1, indices.length * k);
      const uses = labelMask ? [...indices.map((i) => labelMask[i]), undefined] : undefined;
      const disk = encodeDiskEntries([...indices.map((i) => pseudoLabels[i]!), templateLandmarks], size, size, radius, k, diskRows, uses);
      return { size: batchSize, inputSize: size, images: xBuf, heat: heatBuf, disk, ...(weightBuf ? { heatWeight: weightBuf } : {}) };
    },
  };
}

/** The U-Net features, the heatmap channels everywhere, the offset heads at disk pixels only. */
function tplStepPlan(params: ParamStore, batch: TplBatch, k: number, tpl: Profile['tpl']): StepPlan {
  const { size: b, inputSize: size } = batch;
  const xs = tf.tensor4d(batch.images, [b, size, size, 1]);
  const heatT = tf.tensor4d(batch.heat, [b, size, size, k]);
  const rowsT = tf.tensor1d(batch.disk.rows, 'int32');
  const diskT = { entries: tf.tensor1d(batch.disk.entries, 'int32'), offsetX: tf.tensor1d(batch.disk.offsetX), offsetY: tf.tensor1d(batch.disk.offsetY) };
  const weightT = batch.heatWeight ? tf.tensor4d(batch.heatWeight, [b, 1, 1, k]) : undefined;
  return {
    loss: () => {
      const feats = tplFeatures(params, xs);
      const loss = tplLossSparse(tplHeatLogits(params, feats, k), heatT, tplHeadAtRows(params, feats, rowsT), diskT, tpl.heatLossWeight, tpl.heatLossNorm, weightT);
      return { total: loss.total, parts: tf.stack([loss.heat, loss.l1x, loss.l1y]) };
    },
    dispose: () => tf.dispose([xs, heatT, rowsT, diskT.entries, diskT.offsetX, diskT.offsetY, ...(weightT ? [weightT] : [])]),
  };
}
