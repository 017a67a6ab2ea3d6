/**
 * Stage-I training loop (spec §2.2–2.4) as a resumable `Trainer`.
 *
 * - Dataset: the images repeated `SSL_REPEATS` (11) times per epoch, shuffled per epoch with a
 *   stream derived from (seed, epoch); batches of `batchSize`, last partial batch dropped.
 * - Each step: draw one sample per batch entry (ml/data, data Prng), forward the shared net on
 *   the images and on the patches (training-mode BatchNorm, running stats updated by both
 *   passes), loss (ml/ssl/loss), gradients by tf.variableGrads over the trainable variables,
 *   Adam with PyTorch L2 decay, lr·gamma^⌊step/lrStepEvery⌋.
 * - Checkpoint = weights + BN buffers + Adam slots + data Prng state + step + epoch cursor
 *   (+ seed, architecture and an image digest, checked on resume).
 * - `train` awaits a macrotask between steps so heartbeats can go out.
 */
import * as tf from '@tensorflow/tfjs';
import { AdamL2 } from '../core/adam-l2';
import { yieldToEventLoop } from '../core/async';
import { BatchNormStats } from '../core/layers';
import { decodeCheckpoint, encodeCheckpoint } from '../core/checkpoint';
import { Prng } from '../core/prng';
import { makeSslBatch, sslSampleConfig } from '../data/ssl-sample';
import type { SslSampleConfig } from '../data/ssl-sample';
import type { NamedArray } from '../core/params';
import type { Profile } from '../profiles';
import type { GrayImage, Trainer, TrainProgress } from '../types';
import { sslLoss } from './loss';
import type { SslLossConfig } from './loss';
import { encodeSslWeights, SSL_CHECKPOINT_KIND, SslNetwork } from './network';
import type { SslNetConfig } from './network';

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

/** How the encoder was initialised; recorded in checkpoints and weights (spec §6.4). */
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
  lastLoss: number | null;
  init: SslInit;
}

/** FNV-1a over the float bits of every image: detects resuming with different data. */
export function digestImages(images: readonly GrayImage[]): string {
  let h = 0x811c9dc5;
  for (const img of images) {
    const words = new Uint32Array(img.data.buffer, img.data.byteOffset, img.data.length);
    h = Math.imul(h ^ img.height, 0x01000193) >>> 0;
    h = Math.imul(h ^ img.width, 0x01000193) >>> 0;
    for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x01000193) >>> 0;
  }
  return `${images.length}:${h.toString(16).padStart(8, '0')}`;
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

class SslTrainer implements Trainer {
  private stepIndex = 0;
  private cursor: Cursor = { epoch: 0, pos: 0 };
  private order: number[];
  private orderEpoch: number;
  private last: TrainProgress;
  private disposed = false;
  private running = false;
  private failure: Error | undefined;
  private readonly varNameToParam: Map<string, string>;
  private readonly trainVars: tf.Variable[];
  private readonly lossCfg: SslLossConfig;
  private readonly sampleCfg: SslSampleConfig;
  private readonly batchesPerEpoch: number;

  constructor(
    private readonly profile: Profile,
    private readonly images: GrayImage[],
    private readonly seed: number,
    private readonly net: SslNetwork,
    private readonly optimizer: AdamL2,
    private dataPrng: Prng,
    private readonly imageDigest: string,
    private readonly init: SslInit,
  ) {
    this.varNameToParam = new Map([...net.params.trainable].map(([name, v]) => [v.name, name]));
    this.trainVars = [...net.params.trainable.values()];
    this.lossCfg = { temperature: profile.ssl.temperature, window: profile.ssl.window, distanceBias: profile.ssl.distanceBias };
    this.sampleCfg = sslSampleConfig(profile.inputSize, profile.ssl);
    this.batchesPerEpoch = Math.floor((images.length * SSL_REPEATS) / profile.ssl.batchSize);
    this.order = epochOrder(seed, 0, images.length);
    this.orderEpoch = 0;
    this.last = { step: 0, totalSteps: profile.ssl.steps, loss: Number.NaN, lr: sslLearningRate(profile, 0), parts: {} };
  }

  get step(): number {
    return this.stepIndex;
  }

  get totalSteps(): number {
    return this.profile.ssl.steps;
  }

  restore(step: number, cursor: Cursor, lastLoss: number | null): void {
    this.stepIndex = step;
    this.cursor = { ...cursor };
    this.last = { ...this.last, step, loss: lastLoss ?? Number.NaN, lr: sslLearningRate(this.profile, Math.max(step - 1, 0)) };
  }

  /** Indices of the next batch; advances the cursor (new epoch when fewer than a batch remain). */
  private nextIndices(): number[] {
    const B = this.profile.ssl.batchSize;
    if (this.cursor.pos + B > this.batchesPerEpoch * B) this.cursor = { epoch: this.cursor.epoch + 1, pos: 0 };
    if (this.orderEpoch !== this.cursor.epoch) {
      this.order = epochOrder(this.seed, this.cursor.epoch, this.images.length);
      this.orderEpoch = this.cursor.epoch;
    }
    const idx = this.order.slice(this.cursor.pos, this.cursor.pos + B);
    this.cursor = { epoch: this.cursor.epoch, pos: this.cursor.pos + B };
    return idx;
  }

  /** One optimisation step; returns its progress record. */
  private async trainStep(): Promise<TrainProgress> {
    const stepIdx = this.stepIndex;
    const lr = sslLearningRate(this.profile, stepIdx);
    const batch = makeSslBatch(this.images, this.nextIndices(), this.dataPrng, this.sampleCfg);
    const S = batch.inputSize;
    const P = batch.patchSize;
    const levelLosses: tf.Tensor[] = [];
    const bnStats = new BatchNormStats();
    let result: { value: tf.Scalar; grads: tf.NamedTensorMap };
    try {
      result = tf.variableGrads(() => {
        const img = tf.tensor4d(batch.images, [batch.size, S, S, 1]);
        const patch = tf.tensor4d(batch.patches, [batch.size, P, P, 1]);
        const mode = { training: true, bnStats };
        const eImg = this.net.forward(img, mode);
        const ePatch = this.net.forward(patch, mode);
        const { total, perLevel } = sslLoss(eImg, ePatch, { patchYX: batch.patchYX, imageYX: batch.imageYX }, this.lossCfg);
        levelLosses.push(...perLevel.map((t) => tf.keep(t)));
        return total;
      }, this.trainVars);
      // Image pass, then patch pass: the order batchNorm would have updated the buffers in.
      bnStats.apply();
    } catch (err) {
      bnStats.dispose();
      tf.dispose(levelLosses);
      throw err;
    }
    const { value, grads } = result;
    let loss = Number.NaN;
    let parts: number[] = [];
    try {
      const byParam: Record<string, tf.Tensor> = {};
      for (const [vname, g] of Object.entries(grads)) {
        const pname = this.varNameToParam.get(vname);
        if (pname) byParam[pname] = g;
      }
      const stacked = tf.tidy(() => tf.concat([tf.reshape(value, [1]), ...levelLosses.map((t) => tf.reshape(t, [1]))]));
      try {
        const vals = await stacked.data();
        loss = vals[0]!;
        parts = Array.from(vals.subarray(1));
      } finally {
        stacked.dispose();
      }
      if (!Number.isFinite(loss)) {
        // Weights are left as they were before this step; the data stream has moved on, so
        // this trainer must not be checkpointed any more (resume from the last checkpoint).
        this.failure = new Error(`ssl training diverged: loss ${loss} at step ${stepIdx} (lr ${lr})`);
        throw this.failure;
      }
      this.optimizer.apply(byParam, lr);
    } finally {
      tf.dispose([value, ...Object.values(grads), ...levelLosses]);
    }
    this.stepIndex = stepIdx + 1;
    const named: Record<string, number> = {};
    parts.forEach((v, i) => {
      named[`level${i + 1}`] = v;
    });
    return { step: this.stepIndex, totalSteps: this.totalSteps, loss, lr, parts: named };
  }

  async train(n: number, onStep?: (p: TrainProgress) => void): Promise<TrainProgress> {
    this.assertUsable();
    if (this.running) throw new Error('ssl trainer: train() is already running');
    this.running = true;
    try {
      const todo = Math.max(0, Math.min(Math.floor(n), this.totalSteps - this.stepIndex));
      for (let i = 0; i < todo; i++) {
        this.last = await this.trainStep();
        onStep?.(this.last);
        // Let the event loop run (heartbeats, cancellation) between synchronous native steps.
        await yieldToEventLoop();
      }
      return this.last;
    } finally {
      this.running = false;
    }
  }

  async checkpoint(): Promise<Uint8Array> {
    this.assertUsable();
    const meta: SslCheckpointMeta = {
      format: 1, seed: this.seed, inputSize: this.profile.inputSize, net: this.net.config,
      numImages: this.images.length, imageDigest: this.imageDigest, cursor: this.cursor,
      lastLoss: Number.isFinite(this.last.loss) ? this.last.loss : null,
      init: this.init,
    };
    return encodeCheckpoint({
      kind: SSL_CHECKPOINT_KIND, step: this.stepIndex, prng: this.dataPrng.state(),
      params: await this.net.params.toArrays(), optimizer: await this.optimizer.toArrays(), meta: { ...meta },
    });
  }

  async exportWeights(): Promise<Uint8Array> {
    this.assertUsable();
    return encodeSslWeights(this.net, this.profile.inputSize, { init: this.init, step: this.stepIndex });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer.dispose();
    this.net.dispose();
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error('ssl trainer: used after dispose()');
    if (this.failure) throw new Error(`ssl trainer: unusable after a failed step (${this.failure.message})`);
  }
}

export function netConfigOf(profile: Profile): SslNetConfig {
  return { width: profile.ssl.width, embedDim: profile.ssl.embedDim, useRfb: profile.ssl.useRfb };
}

/** Creates (or, with `checkpoint`, resumes) a stage-I trainer. */
export async function createSslTrainer(input: SslTrainerInput): Promise<Trainer> {
  const { profile, images } = input;
  const S = profile.inputSize;
  if (images.length === 0) throw new Error('ssl trainer: no images');
  images.forEach((img, i) => {
    if (img.height !== S || img.width !== S || img.data.length !== S * S) {
      throw new Error(`ssl trainer: image ${i} is ${img.height}x${img.width} (${img.data.length} values), expected ${S}x${S}`);
    }
  });
  if (images.length * SSL_REPEATS < profile.ssl.batchSize) {
    throw new Error(`ssl trainer: ${images.length} images × ${SSL_REPEATS} repeats is less than one batch of ${profile.ssl.batchSize}`);
  }
  const digest = digestImages(images);
  const cfg = netConfigOf(profile);

  if (!input.checkpoint) {
    const root = Prng.fromSeed(input.seed);
    const net = SslNetwork.create(cfg, root.fork());
    const dataPrng = root.fork();
    try {
      if (input.backboneWeights) net.loadBackboneWeights(input.backboneWeights);
    } catch (err) {
      net.dispose();
      throw err;
    }
    const opt = new AdamL2(net.params.trainable, { weightDecay: profile.ssl.weightDecay });
    return new SslTrainer(profile, images, input.seed, net, opt, dataPrng, digest, input.backboneWeights ? 'user-backbone' : 'scratch');
  }

  const c = decodeCheckpoint(input.checkpoint);
  if (c.kind !== SSL_CHECKPOINT_KIND) throw new Error(`ssl trainer: checkpoint kind "${c.kind}" is not "${SSL_CHECKPOINT_KIND}"`);
  const meta = c.meta as unknown as SslCheckpointMeta;
  if (meta.format !== 1) throw new Error(`ssl trainer: unsupported checkpoint format ${String(meta.format)}`);
  if (meta.inputSize !== S || JSON.stringify(meta.net) !== JSON.stringify(cfg)) {
    throw new Error(`ssl trainer: checkpoint is for inputSize ${meta.inputSize} / ${JSON.stringify(meta.net)}, profile gives ${S} / ${JSON.stringify(cfg)}`);
  }
  if (meta.imageDigest !== digest) throw new Error(`ssl trainer: checkpoint was trained on different images (${meta.imageDigest} vs ${digest})`);
  if (meta.seed !== input.seed) throw new Error(`ssl trainer: checkpoint seed ${meta.seed} differs from seed ${input.seed}`);
  const net = SslNetwork.create(cfg, null);
  let opt: AdamL2 | undefined;
  try {
    net.params.load(c.params);
    opt = new AdamL2(net.params.trainable, { weightDecay: profile.ssl.weightDecay });
    opt.load(c.optimizer.step, c.optimizer.slots);
    const trainer = new SslTrainer(profile, images, meta.seed, net, opt, Prng.fromState(c.prng), digest, meta.init ?? 'scratch');
    trainer.restore(c.step, meta.cursor, meta.lastLoss);
    return trainer;
  } catch (err) {
    opt?.dispose();
    net.dispose();
    throw err;
  }
}
