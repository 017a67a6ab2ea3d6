/**
 * The resumable training loop shared by `trainSelfSupervised` and `trainSupervised`:
 * completion marker → resume from the newest verified checkpoint → train step by step with
 * heartbeats → checkpoint every `checkpointEvery` steps → export weights to a content-addressed
 * key → completion marker. No tensor math here: the Trainer (ml/) does it.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Trainer } from '../ml/types';
import type { ObjectStore } from '../infra/storage/object-store';
import { NotFoundError } from '../infra/storage/object-store';
import { InvalidDocumentError, parseJson, readJson } from '../infra/storage/read-json';
import { DoneMarkerSchema, LossLogSchema, type DoneMarker } from '../contracts/documents';
import { sha256Hex, sha256OfJson } from '../infra/storage/hash';
import { CheckpointStore } from './checkpoints';
import { retryingStore, withStorageRetry } from './failures';
import { ProgressReporter, type ProgressOptions } from './progress';
import { runKeys, type TrainKind } from '../infra/storage/keys';
import type { ArtifactRef, BackendRef, TrainHeartbeat, TrainOutput } from '../contracts/types';

export interface TrainingRun {
  kind: TrainKind;
  runId: string;
  /** Everything that determines the result (profile, seed, ids, dataset, upstream hashes). */
  fingerprintOf: unknown;
  checkpointEvery: number;
  /** Builds a trainer, resuming from `checkpoint` when given; throws if the bytes do not fit. */
  createTrainer(checkpoint?: Uint8Array): Promise<Trainer>;
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

export async function runTraining(deps: TrainingDeps, run: TrainingRun): Promise<TrainOutput> {
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

  const ckpts = new CheckpointStore(store, run.runId, run.kind, fp, ctx.log);
  const hb = ctx.info.heartbeatDetails as TrainHeartbeat | undefined;
  let trainer: Trainer | undefined;
  const loaded = await ckpts.loadLatest(hb, async (c) => {
    try {
      trainer = await run.createTrainer(c.bytes);
      return true;
    } catch (err) {
      ctx.log.warn('checkpoint rejected by the trainer', { error: (err as Error).message });
      return false;
    }
  });
  trainer ??= await run.createTrainer();
  const t: Trainer = trainer;
  const resumedFromStep = t.step;
  const lossLog = new LossLogRecorder(run.kind, t.totalSteps);
  if (loaded) lossLog.restore(await ckpts.readLossLog(loaded.manifest), resumedFromStep);
  let lastCheckpoint: ArtifactRef | undefined = loaded?.manifest.blob;
  let lastCheckpointStep = loaded?.manifest.step ?? 0;
  let loss = loaded?.manifest.loss ?? Number.NaN;
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
    const saved = await ckpts.save(bytes, t.step, t.totalSteps, attempt, loss, lossLog.bytes());
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
      finalLoss: loss, resumedFromStep, attempt, backend: deps.backend(), durationMs: Date.now() - started,
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
