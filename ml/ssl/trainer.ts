/**
 * Stage-I training loop (docs/method.md#ssl) as a resumable `Trainer`.
 *
 * - Dataset: the images repeated `SSL_REPEATS` (11) times per epoch, shuffled per epoch with a
 *   stream derived from (seed, epoch); batches of `batchSize`, last partial batch dropped.
 * - Each step: draw one sample per batch entry (ml/data, data Prng), forward the shared net on
 *   the images and on the patches (training-mode BatchNorm, running stats updated by both
 *   passes), loss (ml/ssl/loss), gradients by tf.variableGrads over the trainable variables,
 *   Adam with PyTorch L2 decay, lr·gamma^⌊step/lrStepEvery⌋.
 * - Checkpoint = weights + BN buffers + Adam slots + data Prng state + step + epoch cursor
 *   (+ seed, architecture and an image digest, checked on resume).
 * The step loop, loss check, yielding and checkpoint codec are ml/core/trainer's.
 */
import * as tf from '@tensorflow/tfjs';
import { Fnv1a } from '../core/digest';
import { BatchNormStats } from '../core/layers';
import type { NamedArray } from '../core/params';
import { Prng } from '../core/prng';
import { CHECKPOINT_FORMAT, checkResumeMeta, createTrainer, disposeTraining, initTraining, openCheckpoint } from '../core/trainer';
import type { StepPlan } from '../core/trainer';
import { makeSslBatch, sslSampleConfig } from '../data/ssl-sample';
import type { SslBatch } from '../data/ssl-sample';
import type { Profile } from '../profiles';
import type { GrayImage, Trainer } from '../types';
import { sslLoss } from './loss';
import type { SslLossConfig } from './loss';
import { encodeSslWeights, SSL_CHECKPOINT_KIND, SSL_LEVELS, SslNetwork } from './network';
import type { SslNetConfig } from './network';

const NAME = 'ssl trainer';

/** Times each image appears per epoch (the reference: 150 images × 11 = 1650 samples). */
export const SSL_REPEATS = 11;

export interface SslTrainerInput {
  profile: Profile;
  /** Training images at profile.inputSize × profile.inputSize, values in [0, 1]. */
  images: GrayImage[];
  seed: number;
  /** Bytes from a previous `checkpoint()`: resumes exactly where it stopped. */
  checkpoint?: Uint8Array;
  /**
   * User-supplied VGG19 backbone weights for a fresh start (see SslNetwork.loadBackboneWeights);
   * the default is training from scratch. Ignored when resuming (the checkpoint has the weights).
   */
  backboneWeights?: NamedArray[];
}

/** How the encoder was initialised; recorded in checkpoints and weights (docs/method.md#test-sets). */
export type SslInit = 'scratch' | 'user-backbone';

interface Cursor {
  epoch: number;
  /** Next position in the epoch's order. */
  pos: number;
}

interface SslCheckpointMeta {
  format: 1;
  seed: number;
  inputSize: number;
  net: SslNetConfig;
  numImages: number;
  imageDigest: string;
  cursor: Cursor;
  lastLoss?: number | null;
  init: SslInit;
}

/** FNV-1a over the float bits of every image: detects resuming with different data. */
export function digestImages(images: readonly GrayImage[]): string {
  const h = new Fnv1a();
  for (const img of images) h.image(img);
  return h.digest(images.length);
}

/** The sample order of one epoch: image indices, each repeated SSL_REPEATS times, shuffled. */
export function epochOrder(seed: number, epoch: number, numImages: number): number[] {
  const order: number[] = [];
  for (let r = 0; r < SSL_REPEATS; r++) for (let i = 0; i < numImages; i++) order.push(i);
  return Prng.derive(seed, 0x55c1, epoch).shuffle(order);
}

export function sslLearningRate(profile: Profile, step: number): number {
  return profile.ssl.lr * profile.ssl.lrGamma ** Math.floor(step / profile.ssl.lrStepEvery);
}

export function netConfigOf(profile: Profile): SslNetConfig {
  return { width: profile.ssl.width, embedDim: profile.ssl.embedDim, useRfb: profile.ssl.useRfb };
}

/** Creates (or, with `checkpoint`, resumes) a stage-I trainer. */
export async function createSslTrainer(input: SslTrainerInput): Promise<Trainer> {
  const { profile, images, seed } = input;
  const S = profile.inputSize;
  if (images.length === 0) throw new Error(`${NAME}: no images`);
  images.forEach((img, i) => {
    if (img.height !== S || img.width !== S || img.data.length !== S * S) {
      throw new Error(`${NAME}: image ${i} is ${img.height}x${img.width} (${img.data.length} values), expected ${S}x${S}`);
    }
  });
  if (images.length * SSL_REPEATS < profile.ssl.batchSize) {
    throw new Error(`${NAME}: ${images.length} images × ${SSL_REPEATS} repeats is less than one batch of ${profile.ssl.batchSize}`);
  }
  const imageDigest = digestImages(images);
  const net = netConfigOf(profile);
  const c = input.checkpoint
    ? openCheckpoint(NAME, input.checkpoint, SSL_CHECKPOINT_KIND, (m) => {
      const meta = m as unknown as SslCheckpointMeta;
      if (meta.inputSize !== S || JSON.stringify(meta.net) !== JSON.stringify(net)) {
        throw new Error(`checkpoint is for inputSize ${meta.inputSize} / ${JSON.stringify(meta.net)}, profile gives ${S} / ${JSON.stringify(net)}`);
      }
      checkResumeMeta(m, { seed }, ['imageDigest', imageDigest]);
    })
    : undefined;
  const meta = c?.meta as unknown as SslCheckpointMeta | undefined;
  const state = initTraining(seed, c, profile.ssl.weightDecay, (p) => SslNetwork.define(p, net));
  const model = state.model;
  try {
    if (!c && input.backboneWeights) model.loadBackboneWeights(input.backboneWeights);
  } catch (err) {
    disposeTraining(state);
    throw err;
  }
  const init: SslInit = meta ? (meta.init ?? 'scratch') : input.backboneWeights ? 'user-backbone' : 'scratch';
  const batches = sslBatches(input, state.dataPrng, meta?.cursor ?? { epoch: 0, pos: 0 });
  const lossCfg: SslLossConfig = { temperature: profile.ssl.temperature, window: profile.ssl.window, distanceBias: profile.ssl.distanceBias };
  return createTrainer({
    name: NAME,
    checkpointKind: SSL_CHECKPOINT_KIND,
    totalSteps: profile.ssl.steps,
    state,
    partNames: SSL_LEVELS.map((_l, i) => `level${i + 1}`),
    learningRate: (step) => sslLearningRate(profile, step),
    planStep: () => sslStepPlan(model, batches.next(), lossCfg),
    checkpointMeta: (): SslCheckpointMeta => ({
      format: CHECKPOINT_FORMAT, seed, inputSize: S, net, numImages: images.length, imageDigest, cursor: batches.cursor(), init,
    }),
    exportWeights: (step) => encodeSslWeights(model, S, { init, step }),
  });
}

/** The batch stream: image indices in epoch order, then a stage-I sample per index. */
function sslBatches(input: SslTrainerInput, dataPrng: Prng, start: Cursor) {
  const { profile, images, seed } = input;
  const B = profile.ssl.batchSize;
  const batchesPerEpoch = Math.floor((images.length * SSL_REPEATS) / B);
  const sampleCfg = sslSampleConfig(profile.inputSize, profile.ssl);
  let cursor = { ...start };
  let order = epochOrder(seed, 0, images.length);
  let orderEpoch = 0;
  return {
    cursor: (): Cursor => ({ ...cursor }),
    /** The next batch; a new epoch starts when fewer than a batch remain. */
    next(): SslBatch {
      if (cursor.pos + B > batchesPerEpoch * B) cursor = { epoch: cursor.epoch + 1, pos: 0 };
      if (orderEpoch !== cursor.epoch) {
        order = epochOrder(seed, cursor.epoch, images.length);
        orderEpoch = cursor.epoch;
      }
      const idx = order.slice(cursor.pos, cursor.pos + B);
      cursor = { epoch: cursor.epoch, pos: cursor.pos + B };
      return makeSslBatch(images, idx, dataPrng, sampleCfg);
    },
  };
}

/**
 * The shared net on the images and on the patches (training-mode BatchNorm, running statistics
 * deferred and applied image pass first, then patch pass: the order batchNorm would have updated
 * the buffers in), then the cascade loss.
 */
function sslStepPlan(net: SslNetwork, batch: SslBatch, lossCfg: SslLossConfig): StepPlan {
  const bnStats = new BatchNormStats();
  const S = batch.inputSize;
  const P = batch.patchSize;
  return {
    loss: () => {
      const img = tf.tensor4d(batch.images, [batch.size, S, S, 1]);
      const patch = tf.tensor4d(batch.patches, [batch.size, P, P, 1]);
      const mode = { training: true, bnStats };
      const eImg = net.forward(img, mode);
      const ePatch = net.forward(patch, mode);
      const { total, perLevel } = sslLoss(eImg, ePatch, { patchYX: batch.patchYX, imageYX: batch.imageYX }, lossCfg);
      return { total, parts: tf.stack(perLevel) };
    },
    afterGradients: () => bnStats.apply(),
    dispose: () => bnStats.dispose(),
  };
}
