/**
 * TPL training loop (spec §5.3): the multi-task U-Net trained on pseudo-labels.
 *
 * Each step's batch = `batchPseudo` pseudo-labelled images, drawn in a seeded shuffled order
 * (epoch after epoch over the list; a batch may straddle two epochs), + the template image with
 * its true landmarks. Adam with PyTorch-style L2 weight decay; lr = lr0 · γ^(number of
 * `lrDecaySteps` already reached). No augmentation (the reference builds a ColorJitter but never
 * uses it, spec §5.3 / §8.9).
 *
 * The loss is `tplLossSparse`: the heatmap channels at full resolution, the offset heads only at
 * disk pixels (same value and gradients as the dense `tplLoss`, tested; much less work).
 *
 * Checkpoints hold the weights, Adam state, the data PRNG state, the step and the data cursor
 * (the current epoch's order and position) plus a digest of the data, so N straight steps and
 * N/2 + resume + N/2 steps visit the same batches and give the same weights (bit-identical on
 * the native backend, tested). `train` yields to the event loop after every step.
 */
import * as tf from '@tensorflow/tfjs';
import { AdamL2 } from '../core/adam-l2';
import { decodeCheckpoint, encodeCheckpoint } from '../core/checkpoint';
import { ParamStore } from '../core/params';
import { Prng } from '../core/prng';
import type { Profile } from '../profiles';
import type { GrayImage, PointYX, TrainProgress, Trainer } from '../types';
import { diskRadius, encodeDiskEntries, writeHeatmapOffset } from './codec';
import { tplLossSparse } from './loss';
import { defineTplNetwork, tplFeatures, tplHeadAtRows, tplHeatLogits } from './network';

export const TPL_TRAIN_KIND = 'cc2d-tpl-train';
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

/** FNV-1a (32-bit) over the training data, as hex. */
export function digestTplData(images: readonly GrayImage[], labels: readonly PointYX[][], template: GrayImage, templateLandmarks: readonly PointYX[]): string {
  let h = 0x811c9dc5;
  const word = (v: number) => {
    h = Math.imul(h ^ (v >>> 0), 0x01000193) >>> 0;
  };
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const num = (v: number) => {
    f32[0] = v;
    word(u32[0]!);
  };
  for (const img of [...images, template]) {
    word(img.height);
    word(img.width);
    const words = new Uint32Array(img.data.buffer, img.data.byteOffset, img.data.length);
    for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x01000193) >>> 0;
  }
  for (const pts of [...labels, templateLandmarks]) {
    word(pts.length);
    for (const [y, x] of pts) {
      num(y);
      num(x);
    }
  }
  return `${images.length}:${h.toString(16).padStart(8, '0')}`;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
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

  const radius = diskRadius(size, tpl.radiusFraction);
  const dataDigest = digestTplData(images, pseudoLabels, template, templateLandmarks);
  const root = Prng.fromSeed(seed);
  const params = new ParamStore(root.fork());
  defineTplNetwork(params, { width: tpl.width, landmarkCount: k });
  // In a tidy scope so that the temporaries the moment variables are made from are freed.
  let made: AdamL2 | undefined;
  tf.tidy(() => {
    made = new AdamL2(params.trainable, { weightDecay: tpl.weightDecay });
  });
  const optimizer = made!;
  let dataPrng = root.fork();
  let step = 0;
  let epoch = 0;
  let order: number[] = [];
  let cursor = 0;

  if (input.checkpoint) {
    try {
      const c = decodeCheckpoint(input.checkpoint);
      if (c.kind !== TPL_TRAIN_KIND) throw new Error(`checkpoint kind is "${c.kind}", expected "${TPL_TRAIN_KIND}"`);
      const m = c.meta as unknown as TrainMeta;
      if (m.format !== 1) throw new Error(`unsupported checkpoint format ${String(m.format)}`);
      const expect: Array<[keyof TrainMeta, number]> = [
        ['landmarkCount', k], ['width', tpl.width], ['inputSize', size], ['radius', radius],
        ['imageCount', images.length], ['batchPseudo', tpl.batchPseudo], ['seed', seed],
      ];
      for (const [key, v] of expect) {
        if (m[key] !== v) throw new Error(`checkpoint ${key} = ${String(m[key])}, this run has ${v}`);
      }
      if (m.dataDigest !== dataDigest) throw new Error(`checkpoint was trained on other data (digest ${m.dataDigest}, this run ${dataDigest})`);
      params.load(c.params);
      optimizer.load(c.optimizer.step, c.optimizer.slots);
      dataPrng = Prng.fromState(c.prng);
      step = c.step;
      epoch = m.epoch;
      order = [...m.order];
      cursor = m.cursor;
    } catch (err) {
      params.dispose();
      optimizer.dispose();
      throw new Error(`createTplTrainer: cannot resume: ${(err as Error).message}`);
    }
  }

  // The template's targets never change: encode them once, NHWC, for one image.
  const plane = size * size;
  const perImage = plane * k;
  const templateHeat = new Float32Array(perImage);
  writeHeatmapOffset(templateLandmarks, size, size, radius, { heatmap: templateHeat }, { base: 0, rowStride: size * k, colStride: k, chanStride: 1 });

  const variables = [...params.trainable.values()];
  const paramNameOf = new Map([...params.trainable].map(([name, v]) => [v.name, name]));

  function nextIndices(): number[] {
    const out: number[] = [];
    for (let b = 0; b < tpl.batchPseudo; b++) {
      if (cursor >= order.length) {
        order = dataPrng.shuffle(images.map((_img, i) => i));
        cursor = 0;
        epoch += 1;
      }
      out.push(order[cursor++]!);
    }
    return out;
  }

  // The image and heatmap-target buffers are allocated once and reused: fresh B·S²·K-float
  // arrays per step cost tens of ms of allocation, page faults and GC at 192² (measured). Safe
  // because each step's tensors are consumed and disposed before the next step refills them.
  // Offset targets are sparse (disk pixels only, see tplLossSparse).
  const batchSize = tpl.batchPseudo + 1;
  const xBuf = new Float32Array(batchSize * plane);
  const heatBuf = new Float32Array(batchSize * perImage);

  /** Fills the batch buffers (images [B, S, S, 1], heat targets [B, S, S, K]; the template last) and lists the disk pixels. */
  function buildBatch(indices: readonly number[]) {
    heatBuf.fill(0);
    indices.forEach((idx, i) => {
      xBuf.set(images[idx]!.data, i * plane);
      writeHeatmapOffset(pseudoLabels[idx]!, size, size, radius, { heatmap: heatBuf }, { base: i * perImage, rowStride: size * k, colStride: k, chanStride: 1 });
    });
    xBuf.set(template.data, indices.length * plane);
    heatBuf.set(templateHeat, indices.length * perImage);
    return encodeDiskEntries([...indices.map((i) => pseudoLabels[i]!), templateLandmarks], size, size, radius, k);
  }

  let busy = false;
  let last: TrainProgress | undefined;
  let disposed = false;

  async function trainStep(): Promise<TrainProgress> {
    const lr = tplLearningRate(tpl, step);
    const disk = buildBatch(nextIndices());
    const b = batchSize;
    const tensors: tf.Tensor[] = [];
    try {
      const xs = tf.tensor4d(xBuf, [b, size, size, 1]);
      const heatT = tf.tensor4d(heatBuf, [b, size, size, k]);
      const rowsT = tf.tensor1d(disk.rows, 'int32');
      const diskT = { entries: tf.tensor1d(disk.entries, 'int32'), offsetX: tf.tensor1d(disk.offsetX), offsetY: tf.tensor1d(disk.offsetY) };
      tensors.push(xs, heatT, rowsT, diskT.entries, diskT.offsetX, diskT.offsetY);
      let parts: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const feats = tplFeatures(params, xs);
        const loss = tplLossSparse(tplHeatLogits(params, feats, k), heatT, tplHeadAtRows(params, feats, rowsT), diskT, tpl.heatLossWeight, tpl.heatLossNorm);
        parts = tf.keep(tf.stack([loss.heat, loss.l1x, loss.l1y]));
        return loss.total;
      }, variables);
      tensors.push(value, ...Object.values(grads));
      if (parts) tensors.push(parts);
      const byParam: Record<string, tf.Tensor> = {};
      for (const [varName, g] of Object.entries(grads)) byParam[paramNameOf.get(varName)!] = g;
      const [lossV, partV] = await Promise.all([value.data(), parts!.data()]);
      const loss = lossV[0]!;
      if (!Number.isFinite(loss)) throw new Error(`TPL training diverged at step ${step + 1}: loss = ${loss}`);
      optimizer.apply(byParam, lr);
      step += 1;
      return {
        step, totalSteps: tpl.steps, loss, lr,
        parts: { heat: partV[0]!, l1x: partV[1]!, l1y: partV[2]! },
      };
    } finally {
      tf.dispose(tensors);
    }
  }

  const meta = (): TrainMeta => ({
    format: 1, landmarkCount: k, width: tpl.width, inputSize: size, radius, seed, dataDigest,
    imageCount: images.length, batchPseudo: tpl.batchPseudo, epoch, order: [...order], cursor,
  });

  const trainer: Trainer = {
    get step() {
      return step;
    },
    get totalSteps() {
      return tpl.steps;
    },
    async train(n, onStep) {
      if (disposed) throw new Error('TPL trainer: train() after dispose()');
      if (busy) throw new Error('TPL trainer: train() is already running');
      busy = true;
      try {
        const todo = Math.max(0, Math.min(Math.trunc(n), tpl.steps - step));
        for (let i = 0; i < todo; i++) {
          last = await trainStep();
          onStep?.(last);
          await yieldToEventLoop();
        }
        return last ?? { step, totalSteps: tpl.steps, loss: Number.NaN, lr: tplLearningRate(tpl, step), parts: {} };
      } finally {
        busy = false;
      }
    },
    async checkpoint() {
      if (busy) throw new Error('TPL trainer: checkpoint() while train() is running');
      return encodeCheckpoint({
        kind: TPL_TRAIN_KIND, step, prng: dataPrng.state(),
        params: await params.toArrays(), optimizer: await optimizer.toArrays(),
        meta: meta() as unknown as Record<string, unknown>,
      });
    },
    async exportWeights() {
      if (busy) throw new Error('TPL trainer: exportWeights() while train() is running');
      const m: TplWeightsMeta = { landmarkCount: k, width: tpl.width, inputSize: size, radius };
      return encodeCheckpoint({
        kind: TPL_WEIGHTS_KIND, step, prng: dataPrng.state(),
        params: await params.toArrays(), optimizer: { step: 0, slots: [] },
        meta: m as unknown as Record<string, unknown>,
      });
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      params.dispose();
      optimizer.dispose();
    },
  };
  return trainer;
}
