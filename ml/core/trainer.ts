/**
 * The training skeleton shared by the stage-I (ml/ssl) and TPL (ml/tpl) trainers. A concrete
 * trainer supplies its parameters, optimizer, data PRNG, learning-rate schedule, checkpoint
 * metadata and, per step, the loss graph of its next batch (`TrainerSpec`); the skeleton owns
 * everything else:
 * - step counting, clamped to totalSteps;
 * - gradients by tf.variableGrads, the loss check before the update (a non-finite loss leaves the
 *   weights as they were), Adam with the scheduled lr;
 * - a trainer whose step failed refuses further use: its data stream has moved past the batch,
 *   so a checkpoint of it would not resume where the weights are;
 * - one train() at a time, nothing after dispose();
 * - a macrotask between steps, so heartbeats and cancellation get through;
 * - checkpoints (weights, BN buffers, Adam state, data PRNG, step, last loss + the trainer's
 *   metadata) and their checks on resume (kind, format, run fields, data digest).
 */
import * as tf from '@tensorflow/tfjs';
import type { Trainer, TrainProgress } from '../types';
import { AdamL2 } from './adam-l2';
import { yieldToEventLoop } from './async';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint';
import type { CheckpointContent } from './checkpoint';
import { ParamStore } from './params';
import { Prng } from './prng';

/** The loss graph of one step, built by the concrete trainer for the batch it just drew. */
export interface StepPlan {
  /** Runs inside tf.variableGrads: the total loss and its parts as a 1-D tensor (see partNames). */
  loss(): { total: tf.Scalar; parts: tf.Tensor };
  /** Runs once the gradients exist, before the loss check (e.g. deferred BatchNorm statistics). */
  afterGradients?(): void;
  /** Frees what the plan holds; called however the step ends. */
  dispose?(): void;
}

export interface TrainerSpec {
  /** Prefix of error messages, e.g. "ssl trainer". */
  name: string;
  checkpointKind: string;
  totalSteps: number;
  /** Owned by the trainer from now on: disposed with it. Its data PRNG is saved in checkpoints. */
  state: TrainingState;
  /** Names of the loss parts, in the order of `StepPlan.loss().parts`. */
  partNames: readonly string[];
  /** The lr of the update made at `step` (counting completed updates). */
  learningRate(step: number): number;
  /** Draws the next batch (advancing the data cursor) and describes its loss. */
  planStep(): StepPlan;
  /** The concrete trainer's checkpoint metadata (format, data cursor, digest, run fields). */
  checkpointMeta(): object;
  /** Inference weights in the trainer's own format; `step` is the number of updates made. */
  exportWeights(step: number): Promise<Uint8Array>;
}

/** Where a resumed trainer starts: the checkpoint's step and the loss of its last step. */
export interface ResumePoint {
  step: number;
  lastLoss: number | null;
}

export const CHECKPOINT_FORMAT = 1;

class SkeletonTrainer implements Trainer {
  private stepIndex: number;
  private last: TrainProgress;
  private running = false;
  private disposed = false;
  private failure: Error | undefined;
  private readonly variables: tf.Variable[];
  private readonly paramNameOf: Map<string, string>;

  constructor(private readonly spec: TrainerSpec) {
    const { params, resume } = spec.state;
    this.stepIndex = resume?.step ?? 0;
    this.variables = [...params.trainable.values()];
    this.paramNameOf = new Map([...params.trainable].map(([name, v]) => [v.name, name]));
    this.last = {
      step: this.stepIndex, totalSteps: spec.totalSteps, loss: resume?.lastLoss ?? Number.NaN,
      lr: spec.learningRate(Math.max(this.stepIndex - 1, 0)), parts: {},
    };
  }

  get step(): number {
    return this.stepIndex;
  }

  get totalSteps(): number {
    return this.spec.totalSteps;
  }

  async train(n: number, onStep?: (p: TrainProgress) => void): Promise<TrainProgress> {
    this.assertIdle('train()');
    this.running = true;
    try {
      const todo = Math.max(0, Math.min(Math.trunc(n), this.totalSteps - this.stepIndex));
      for (let i = 0; i < todo; i++) {
        try {
          this.last = await this.trainStep();
        } catch (err) {
          this.failure = err as Error;
          throw err;
        }
        onStep?.(this.last);
        // Native kernels block the event loop while they run: let it turn between steps.
        await yieldToEventLoop();
      }
      return this.last;
    } finally {
      this.running = false;
    }
  }

  private async trainStep(): Promise<TrainProgress> {
    const { spec } = this;
    const step = this.stepIndex;
    const lr = spec.learningRate(step);
    const plan = spec.planStep();
    const tensors: tf.Tensor[] = [];
    try {
      let parts: tf.Tensor | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const l = plan.loss();
        parts = tf.keep(l.parts);
        tensors.push(parts);
        return l.total;
      }, this.variables);
      tensors.push(value, ...Object.values(grads));
      plan.afterGradients?.();
      const [lossV, partV] = await Promise.all([value.data(), parts!.data()]);
      const loss = lossV[0]!;
      if (!Number.isFinite(loss)) throw new Error(`${spec.name}: training diverged: loss ${loss} at step ${step + 1} (lr ${lr}); the update was not applied`);
      const byParam: Record<string, tf.Tensor> = {};
      for (const [varName, g] of Object.entries(grads)) byParam[this.paramNameOf.get(varName)!] = g;
      spec.state.optimizer.apply(byParam, lr);
      this.stepIndex = step + 1;
      const named: Record<string, number> = {};
      spec.partNames.forEach((name, i) => {
        named[name] = partV[i]!;
      });
      return { step: this.stepIndex, totalSteps: this.totalSteps, loss, lr, parts: named };
    } finally {
      plan.dispose?.();
      tf.dispose(tensors);
    }
  }

  async checkpoint(): Promise<Uint8Array> {
    this.assertIdle('checkpoint()');
    const { checkpointKind, state } = this.spec;
    const lastLoss = Number.isFinite(this.last.loss) ? this.last.loss : null;
    return encodeCheckpoint({
      kind: checkpointKind, step: this.stepIndex, prng: state.dataPrng.state(),
      params: await state.params.toArrays(), optimizer: await state.optimizer.toArrays(),
      meta: { ...this.spec.checkpointMeta(), lastLoss },
    });
  }

  async exportWeights(): Promise<Uint8Array> {
    this.assertIdle('exportWeights()');
    return this.spec.exportWeights(this.stepIndex);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeTraining(this.spec.state);
  }

  private assertIdle(what: string): void {
    const { name } = this.spec;
    if (this.disposed) throw new Error(`${name}: ${what} after dispose()`);
    if (this.failure) throw new Error(`${name}: unusable after a failed step (${this.failure.message})`);
    if (this.running) throw new Error(`${name}: ${what} while train() is running`);
  }
}

/** A trainer around `spec`, at step 0 or where its state was restored. */
export function createTrainer(spec: TrainerSpec): Trainer {
  return new SkeletonTrainer(spec);
}

/**
 * Decodes checkpoint bytes for trainer `name`, checking their kind and format, then the trainer's
 * own `check` of the metadata (see checkResumeMeta).
 */
export function openCheckpoint(name: string, bytes: Uint8Array, kind: string, check: (meta: Record<string, unknown>) => void): CheckpointContent {
  try {
    const c = decodeCheckpoint(bytes);
    if (c.kind !== kind) throw new Error(`checkpoint kind "${c.kind}" is not "${kind}"`);
    if (c.meta.format !== CHECKPOINT_FORMAT) throw new Error(`unsupported checkpoint format ${String(c.meta.format)}`);
    check(c.meta);
    return c;
  } catch (err) {
    throw new Error(`${name}: cannot resume: ${(err as Error).message}`);
  }
}

/**
 * Checks that a checkpoint belongs to this run: every field in `fields` equal (seed, sizes,
 * architecture), then the data digest (`digest` = [meta key, this run's digest]).
 */
export function checkResumeMeta(meta: Record<string, unknown>, fields: Record<string, unknown>, digest: [key: string, value: string]): void {
  for (const [key, want] of Object.entries(fields)) {
    if (JSON.stringify(meta[key]) !== JSON.stringify(want)) throw new Error(`checkpoint ${key} = ${JSON.stringify(meta[key])}, this run has ${JSON.stringify(want)}`);
  }
  const [key, want] = digest;
  if (meta[key] !== want) throw new Error(`checkpoint was trained on other data (different images or labels: digest ${String(meta[key])}, this run ${want})`);
}

/** A trainer's parameters, optimizer and data stream, fresh or restored; see initTraining. */
export interface TrainingState<M = unknown> {
  params: ParamStore;
  /** What `define` returned (e.g. the network object over `params`). */
  model: M;
  optimizer: AdamL2;
  dataPrng: Prng;
  /** Set when restored from a checkpoint. */
  resume?: ResumePoint;
}

/**
 * Builds the parameters (`define` declares them), the Adam-L2 optimizer and the data PRNG.
 * Fresh: the weights draw from the seed's first fork, the data stream is its second. From a
 * checked checkpoint: weights, optimizer state, PRNG and step are the checkpoint's (the weights
 * start as zeros, no random draws are spent on them). Frees what it built if anything throws.
 */
export function initTraining<M>(seed: number, checkpoint: CheckpointContent | undefined, weightDecay: number, define: (p: ParamStore) => M): TrainingState<M> {
  const root = checkpoint ? undefined : Prng.fromSeed(seed);
  const params = new ParamStore(root ? root.fork() : null);
  let optimizer: AdamL2 | undefined;
  try {
    const model = define(params);
    optimizer = new AdamL2(params.trainable, { weightDecay });
    if (!checkpoint) return { params, model, optimizer, dataPrng: root!.fork() };
    params.load(checkpoint.params);
    optimizer.load(checkpoint.optimizer.step, checkpoint.optimizer.slots);
    const lastLoss = checkpoint.meta.lastLoss;
    return {
      params, model, optimizer, dataPrng: Prng.fromState(checkpoint.prng),
      resume: { step: checkpoint.step, lastLoss: typeof lastLoss === 'number' ? lastLoss : null },
    };
  } catch (err) {
    optimizer?.dispose();
    params.dispose();
    throw err;
  }
}

/** Frees a state that never became a trainer (a trainer frees its own on dispose()). */
export function disposeTraining(state: TrainingState): void {
  state.optimizer.dispose();
  state.params.dispose();
}
