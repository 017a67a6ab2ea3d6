/**
 * The resumable training loop shared by `trainSelfSupervised`, `trainSupervised` and
 * `trainRefiner`: completion marker → the stage's data (read only when it trains) → resume from
 * the newest verified checkpoint (or, with none, from an earlier run's checkpoint the stage cache
 * named: SSL continuation) → train step by step with heartbeats → checkpoint every
 * `checkpointEvery` steps → export weights to a content-addressed key → completion marker. No
 * tensor math here: the Trainer (ml/) does it.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Trainer } from '../ml/types';
import type { ObjectStore } from '../infra/storage/object-store';
import { NotFoundError } from '../infra/storage/object-store';
import { InvalidDocumentError, parseJson, readJson } from '../infra/storage/read-json';
import { CheckpointManifestSchema, DoneMarkerSchema, LossLogSchema, type DoneMarker } from '../contracts/documents';
import { sha256Hex, sha256OfJson } from '../infra/storage/hash';
import { CheckpointStore } from './checkpoints';
import { describeBackendRef } from '../infra/backend-ref';
import { manifestDescribes } from '../infra/cache/ssl-continuation';
import { isTransientStorage, retryingStore, withStorageRetry } from './failures';
import { ProgressReporter, type ProgressOptions } from './progress';
import { runKeys, type TrainKind } from '../infra/storage/keys';
import type { ArtifactRef, BackendRef, SslContinuation, TrainHeartbeat, TrainOutput } from '../contracts/types';

/**
 * One training stage. `D` is what training needs beyond the fingerprint (images, labels, masks):
 * `prepare` reads it after the done-check, so a retry that finds the stage done reads nothing but
 * the completion marker, and hands it to `createTrainer` and `outputExtras`.
 */
export interface TrainingRun<D = undefined> {
  kind: TrainKind;
  runId: string;
  /** Everything that determines the result (profile, seed, ids, dataset, upstream hashes). */
  fingerprintOf: unknown;
  checkpointEvery: number;
  /** Reads the stage's data (seconds to minutes: images, the round-trip mask); before any trainer is created. */
  prepare?: () => Promise<D>;
  /** Builds a trainer on `data`, resuming from `checkpoint` when given; throws if the bytes do not fit. */
  createTrainer(data: D, checkpoint?: Uint8Array): Promise<Trainer>;
  /** An earlier run's checkpoint to start from when this run has none of its own (infra/cache/ssl-continuation.ts). */
  continueFrom?: SslContinuation;
  /** Stage-specific fields of the output, kept in the done marker with the rest (read after training). */
  outputExtras?: (data: D) => Pick<TrainOutput, 'leftOutLabels'>;
}

export interface TrainingDeps {
  store: ObjectStore;
  backend: () => BackendRef;
  progress?: ProgressOptions;
}

const enc = new TextEncoder();


/** The stage's completion marker; a missing or unreadable one counts as absent (the stage runs). */
async function readDone(store: ObjectStore, key: string): Promise<DoneMarker | undefined> {
  try {
    return await readJson(retryingStore(store), key, DoneMarkerSchema);
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof InvalidDocumentError) return undefined;
    throw err;
  }
}

export async function runTraining<D = undefined>(deps: TrainingDeps, run: TrainingRun<D>): Promise<TrainOutput> {
  const ctx = Context.current();
  const { store } = deps;
  const { attempt } = ctx.info;
  const started = Date.now();
  const fp = sha256OfJson(run.fingerprintOf);

  // A retry after a lost completion (docs/reliability.md#f8) returns the stored result.
  const doneKey = runKeys.trainDone(run.runId, run.kind);
  const done = await readDone(store, doneKey);
  if (done && done.fingerprint === fp && (await withStorageRetry('exists', () => store.exists(done.output.weights.key)))) {
    ctx.log.info('training already completed; returning the stored result', { kind: run.kind, weights: done.output.weights.key });
    return done.output;
  }

  const data = (await run.prepare?.()) as D;
  const ckpts = new CheckpointStore(store, run.runId, run.kind, fp, ctx.log);
  const hb = ctx.info.heartbeatDetails as TrainHeartbeat | undefined;
  let trainer: Trainer | undefined;
  const loaded = await ckpts.loadLatest(hb, async (c) => {
    try {
      trainer = await run.createTrainer(data, c.bytes);
      return true;
    } catch (err) {
      ctx.log.warn('checkpoint rejected by the trainer', { error: (err as Error).message });
      return false;
    }
  });
  let continuedFrom = loaded?.manifest.continuedFrom;
  let continuedLossLog: Uint8Array | undefined;
  let continuedLoss = Number.NaN;
  if (!trainer && run.continueFrom) {
    const earlier = await startFromEarlierRun(deps, ckpts, run, data);
    if (earlier) {
      ({ trainer, lossLog: continuedLossLog, loss: continuedLoss } = earlier);
      continuedFrom = { runId: run.continueFrom.sourceRunId, step: run.continueFrom.step };
    }
  }
  trainer ??= await run.createTrainer(data);
  const t: Trainer = trainer;
  const resumedFromStep = t.step;
  const lossLog = new LossLogRecorder(run.kind, t.totalSteps);
  if (loaded) lossLog.restore(await ckpts.readLossLog(loaded.manifest), resumedFromStep);
  else if (continuedFrom) lossLog.restore(continuedLossLog, resumedFromStep);
  let lastCheckpoint: ArtifactRef | undefined = loaded?.manifest.blob;
  let lastCheckpointStep = loaded?.manifest.step ?? 0;
  let loss = loaded?.manifest.loss ?? continuedLoss;
  const progress = new ProgressReporter<TrainHeartbeat>(
    ctx,
    {
      stage: run.kind, step: t.step, totalSteps: t.totalSteps,
      ...(loaded ? { checkpointKey: loaded.manifest.blob.key, manifestKey: loaded.manifestKey, sha256: loaded.manifest.blob.sha256, checkpointStep: loaded.manifest.step } : {}),
    },
    deps.progress,
  );
  progress.update({}, true);
  ctx.log.info(`${run.kind} training ${resumedFromStep > 0 ? `resumed at step ${resumedFromStep}` : 'started'}`, { attempt, totalSteps: t.totalSteps });

  const saveCheckpoint = async (): Promise<void> => {
    const bytes = await t.checkpoint();
    const saved = await ckpts.save(bytes, t.step, t.totalSteps, attempt, loss, lossLog.bytes(), continuedFrom);
    lastCheckpoint = saved.blob;
    lastCheckpointStep = t.step;
    const { checkpointKey, manifestKey, sha256, checkpointStep } = saved;
    progress.update({ checkpointKey, manifestKey, sha256, checkpointStep }, true);
  };

  try {
    while (t.step < t.totalSteps) {
      if (ctx.cancellationSignal.aborted && ctx.cancellationDetails?.workerShutdown) {
        // Graceful drain (docs/reliability.md#f3): keep the work done so far, then fail retryably so another worker resumes at once.
        if (t.step > lastCheckpointStep) await saveCheckpoint();
        throw ApplicationFailure.retryable(`worker shutting down; ${run.kind} checkpointed at step ${t.step}`, 'WorkerShutdown');
      }
      progress.throwIfCancelled();
      const p = await t.train(1);
      loss = p.loss;
      lossLog.add(p.step, loss);
      progress.update({ step: p.step, loss });
      if (t.step % run.checkpointEvery === 0 && t.step < t.totalSteps) await saveCheckpoint();
    }
    const weightsBytes = await t.exportWeights();
    const sha = sha256Hex(weightsBytes);
    const weights = await withStorageRetry('put weights', () => store.put(runKeys.weights(run.runId, run.kind, sha), weightsBytes));
    const logBytes = lossLog.bytes();
    const lossLogRef = await withStorageRetry('put loss log', () =>
      store.put(runKeys.lossLog(run.runId, run.kind, sha256Hex(logBytes)), logBytes, { contentType: 'application/json' }),
    );
    const output: TrainOutput = {
      stage: run.kind, weights, lossLog: lossLogRef, ...(lastCheckpoint ? { lastCheckpoint } : {}), steps: t.step,
      finalLoss: loss, resumedFromStep, ...(continuedFrom ? { continuedFrom } : {}), attempt, backend: deps.backend(), durationMs: Date.now() - started, ...run.outputExtras?.(data),
    };
    const marker: DoneMarker = { fingerprint: fp, output };
    await withStorageRetry('put done marker', () => store.put(doneKey, enc.encode(JSON.stringify(marker)), { contentType: 'application/json' }));
    progress.update({ step: t.step }, true);
    return output;
  } finally {
    t.dispose();
  }
}

/**
 * A trainer at the earlier run's checkpoint (sha256-verified, at the step its manifest names) and
 * that checkpoint's loss log; undefined when it was trained on another backend, or is gone or does
 * not load: the stage then trains from step 0, which gives the same weights, only later.
 */
async function startFromEarlierRun<D>(deps: TrainingDeps, ckpts: CheckpointStore, run: TrainingRun<D>, data: D): Promise<{ trainer: Trainer; loss: number; lossLog?: Uint8Array } | undefined> {
  const c = run.continueFrom!;
  const { store } = deps;
  const log = Context.current().log;
  try {
    const here = deps.backend();
    const device = (b: BackendRef) => (b.device?.startsWith('GPU') ? 'GPU' : 'CPU');
    // The kernel path too: oneDNN's convolutions round differently (an earlier run without the
    // value recorded trained before it was set, and counts as another path).
    if (c.backend.backend !== here.backend || c.backend.tfVersion !== here.tfVersion || c.backend.tfjsVersion !== here.tfjsVersion || device(c.backend) !== device(here) || c.backend.oneDnnOpts !== here.oneDnnOpts) {
      throw new Error(`it was trained on ${describeBackendRef(c.backend)}, this worker is ${describeBackendRef(here)}`);
    }
    const manifest = await readJson(retryingStore(store), c.manifestKey, CheckpointManifestSchema);
    if (!manifestDescribes(manifest, c.sourceRunId, c.checkpoint) || manifest.step !== c.step) {
      throw new Error(`manifest ${c.manifestKey} names another checkpoint`);
    }
    const bytes = await withStorageRetry(`get ${c.checkpoint.key}`, () => store.get(c.checkpoint.key, c.checkpoint.sha256));
    const trainer = await run.createTrainer(data, bytes);
    if (trainer.step !== c.step) {
      trainer.dispose();
      throw new Error(`the checkpoint is at step ${trainer.step}, its manifest says ${c.step}`);
    }
    log.info(`${run.kind} training continues from an earlier run's checkpoint`, { sourceRunId: c.sourceRunId, step: c.step, key: c.checkpoint.key });
    const lossLog = await ckpts.readLossLog(manifest);
    return { trainer, loss: manifest.loss, ...(lossLog ? { lossLog } : {}) };
  } catch (err) {
    if (isTransientStorage(err)) throw err;
    log.warn(`${run.kind}: the earlier run's checkpoint is not usable; training from step 0`, { sourceRunId: c.sourceRunId, key: c.checkpoint.key, error: (err as Error).message });
    return undefined;
  }
}

/**
 * The per-step loss curve of a training stage, in the report's LossLog shape
 * ({stage, totalSteps, resumedAtSteps, points: [{step, loss|null}]}). At most ~10k points are
 * kept (every k-th step for long runs), so it stays small enough to store with each checkpoint.
 */
export class LossLogRecorder {
  private points: Array<{ step: number; loss: number | null }> = [];
  private resumedAtSteps: number[] = [];
  private readonly stride: number;

  constructor(private readonly stage: TrainKind, private readonly totalSteps: number) {
    this.stride = Math.max(1, Math.ceil(totalSteps / 10_000));
  }

  restore(bytes: Uint8Array | undefined, resumedAt: number): void {
    if (bytes) {
      try {
        const log = parseJson('checkpoint loss log', bytes, LossLogSchema);
        this.points = log.points.filter((p) => p.step <= resumedAt);
        this.resumedAtSteps = (log.resumedAtSteps ?? []).filter((s) => s <= resumedAt);
      } catch {
        this.points = [];
      }
    }
    if (resumedAt > 0) this.resumedAtSteps.push(resumedAt);
  }

  add(step: number, loss: number): void {
    if (step % this.stride === 0 || step === this.totalSteps) this.points.push({ step, loss: Number.isFinite(loss) ? loss : null });
  }

  bytes(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ stage: this.stage, totalSteps: this.totalSteps, resumedAtSteps: this.resumedAtSteps, points: this.points }));
  }
}
