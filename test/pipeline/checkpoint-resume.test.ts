/**
 * The resumable training loop (activities/training-loop.ts + checkpoints.ts) in a
 * MockActivityEnvironment against the REAL S3 server, with a tiny deterministic fake Trainer
 * (no TF): checkpoints every N steps with manifests and heartbeat details; resume from the
 * heartbeat's checkpoint; a corrupt (truncated) checkpoint blob or a torn checkpoint (blob
 * without manifest) is skipped for the previous valid one (docs/reliability.md#f2); a checkpoint of
 * another input is never used; a completed stage returns its stored result (docs/reliability.md#f8);
 * an earlier run's checkpoint (SSL continuation) is started from only when it is intact and of
 * this backend, and a retry still reports it;
 * cancellation stops the loop. (That a manifest is never overwritten is asserted by the s3-store tests.)
 * The torn/truncated case also runs with the REAL SSL trainer (smoke shapes): the corrupt blob is
 * reported in the activity log, naming its key, and never loaded.
 */
import { createHash } from 'node:crypto';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { runKeys } from '../../infra/storage/keys';
import { runTraining, type TrainingRun } from '../../activities/training-loop';
import type { SslContinuation, TrainHeartbeat, TrainOutput } from '../../contracts/types';
import type { Trainer, TrainProgress } from '../../ml/types';
import { resolveProfile } from '../../ml/profiles';
import { createSslTrainer } from '../../ml/ssl';
import { syntheticImages } from '../../bench/synthetic';
import { SKIPPED, requireStack } from '../support/stack';

const stack = await requireStack('checkpoint-resume');

/** State = step + a running hash of the steps done: any divergence changes the final weights. */
function fakeTrainer(totalSteps: number, checkpoint?: Uint8Array, log?: number[]): Trainer {
  let step = 0;
  let acc = 'seed';
  if (checkpoint) {
    const s = JSON.parse(new TextDecoder().decode(checkpoint)) as { kind: string; step: number; acc: string };
    if (s.kind !== 'fake') throw new Error('not a fake checkpoint');
    step = s.step;
    acc = s.acc;
  }
  return {
    get step() {
      return step;
    },
    totalSteps,
    async train(n: number, onStep?: (p: TrainProgress) => void): Promise<TrainProgress> {
      let p: TrainProgress = { step, totalSteps, loss: Number.NaN, lr: 0, parts: {} };
      for (let i = 0; i < n && step < totalSteps; i++) {
        step++;
        acc = createHash('sha256').update(`${acc}:${step}`).digest('hex');
        log?.push(step);
        p = { step, totalSteps, loss: 1 / step, lr: 0.1, parts: {} };
        onStep?.(p);
      }
      return p;
    },
    async checkpoint() {
      return new TextEncoder().encode(JSON.stringify({ kind: 'fake', step, acc }));
    },
    async exportWeights() {
      return new TextEncoder().encode(`weights:${acc}`);
    },
    dispose() {},
  };
}

describe.skipIf(!stack)('checkpointed training activity (fake trainer, real S3)', () => {
  const { store } = stack ?? SKIPPED;
  const deps = { store, backend: () => ({ backend: 'fake', tfVersion: '0', tfjsVersion: '0' }) };
  afterAll(() => stack?.cleanup());

  function run(runId: string, totalSteps: number, log?: number[], fingerprintOf: unknown = { v: 1 }): TrainingRun {
    return { kind: 'ssl', runId, fingerprintOf, checkpointEvery: 5, createTrainer: async (_, c) => fakeTrainer(totalSteps, c, log) };
  }

  async function attempt<D>(r: TrainingRun<D>, attemptNo: number, heartbeatDetails?: TrainHeartbeat, onBeat?: (d: TrainHeartbeat) => void): Promise<TrainOutput> {
    const env = new MockActivityEnvironment({ attempt: attemptNo, heartbeatDetails });
    if (onBeat) env.on('heartbeat', (d: TrainHeartbeat) => onBeat(d));
    return env.run(() => runTraining(deps, r));
  }

  it('checkpoints every N steps and heartbeats the checkpoint it wrote', async () => {
    const beats: TrainHeartbeat[] = [];
    const out = await attempt(run('r-plain', 17), 1, undefined, (d) => beats.push(d));
    expect(out).toMatchObject({ stage: 'ssl', steps: 17, resumedFromStep: 0, attempt: 1 });
    const manifests = (await store.list('runs/r-plain/ssl/ckpt/')).filter((o) => o.key.endsWith('manifest.json')).map((o) => o.key);
    expect(manifests).toEqual([5, 10, 15].map((s) => runKeys.checkpoint('r-plain', 'ssl', s, 1).manifest));
    const last = beats.filter((b) => b.checkpointKey).at(-1)!;
    expect(last).toMatchObject({ stage: 'ssl', checkpointStep: 15, checkpointKey: runKeys.checkpoint('r-plain', 'ssl', 15, 1).blob });
    expect(beats.at(-1)).toMatchObject({ step: 17, totalSteps: 17 });
  });

  it('resumes from the heartbeat checkpoint; the result equals an uninterrupted run', async () => {
    const reference = await attempt(run('r-ref', 23), 1);
    // Attempt 1 "crashes" after its checkpoint at step 10 (simulated by stopping at step 12).
    const crashed = fakeTrainer(12);
    let hb: TrainHeartbeat | undefined;
    await attempt({ ...run('r-crash', 23), createTrainer: async (_, c) => (c ? fakeTrainer(23, c) : Object.assign(crashed, { totalSteps: 12 })) }, 1, undefined, (d) => {
      if (d.checkpointKey) hb = d;
    }).catch(() => undefined);
    // Remove the completion of the 12-step pseudo-run so the retry trains on.
    await store.delete([runKeys.trainDone('r-crash', 'ssl'), ...(await store.list('runs/r-crash/ssl/weights-')).map((o) => o.key)]);
    expect(hb).toMatchObject({ checkpointStep: 10 });
    const steps: number[] = [];
    const resumed = await attempt(run('r-crash', 23, steps), 2, hb);
    expect(resumed.resumedFromStep).toBe(10);
    expect(steps[0]).toBe(11);
    expect(resumed.weights.sha256).toBe(reference.weights.sha256);
    const log = JSON.parse(new TextDecoder().decode(await store.get(resumed.lossLog.key))) as { resumedAtSteps: number[]; points: Array<{ step: number }> };
    expect(log.resumedAtSteps).toEqual([10]);
    expect(log.points.map((p) => p.step)).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
  });

  it('skips a truncated checkpoint and a torn one (blob without manifest) for the previous valid checkpoint', async () => {
    const reference = await attempt(run('r-ref2', 22), 1);
    await attempt({ ...run('r-torn', 22), createTrainer: async () => Object.assign(fakeTrainer(12), { totalSteps: 12 }) }, 1);
    await store.delete([runKeys.trainDone('r-torn', 'ssl')]);
    const ck10 = runKeys.checkpoint('r-torn', 'ssl', 10, 1);
    // Corrupt the newest checkpoint (step 10): truncate its blob, keep its manifest.
    const blob = await store.get(ck10.blob);
    await store.put(ck10.blob, blob.subarray(0, blob.length - 3));
    // A torn checkpoint of a later attempt: blob written, crash before the manifest.
    await store.put(runKeys.checkpoint('r-torn', 'ssl', 15, 2).blob, new TextEncoder().encode('{"kind":"fake","step":15,"acc":"x"}'));
    const steps: number[] = [];
    const out = await attempt(run('r-torn', 22, steps), 3, { stage: 'ssl', step: 12, totalSteps: 22, checkpointKey: ck10.blob, manifestKey: ck10.manifest, sha256: 'x', checkpointStep: 10 });
    expect(out.resumedFromStep).toBe(5);
    expect(steps[0]).toBe(6);
    expect(out.weights.sha256).toBe(reference.weights.sha256);
  });

  it('real SSL trainer: a truncated newest blob and a torn later checkpoint are reported in the log and skipped; weights equal the uninterrupted run', async () => {
    const profile = resolveProfile('smoke', { ssl: { steps: 12, checkpointEvery: 4 } });
    const images = syntheticImages(3, profile.inputSize, 11);
    const real = (c?: Uint8Array) => createSslTrainer({ profile, images, seed: 7, ...(c ? { checkpoint: c } : {}) });
    const realRun = (runId: string, crashAt = Infinity): TrainingRun => ({
      kind: 'ssl', runId, fingerprintOf: { real: 1 }, checkpointEvery: 4,
      createTrainer: async (_, c) => {
        const t = await real(c);
        // A crash: the attempt dies once the trainer reaches `crashAt` (after its step-8 checkpoint).
        return {
          get step() {
            return t.step;
          },
          totalSteps: t.totalSteps,
          train: async (n, onStep) => {
            if (t.step >= crashAt) throw new Error('simulated crash');
            return t.train(Math.min(n, crashAt - t.step), onStep);
          },
          checkpoint: () => t.checkpoint(),
          exportWeights: () => t.exportWeights(),
          dispose: () => t.dispose(),
        };
      },
    });
    const reference = await attempt(realRun('r-real-ref'), 1);
    await expect(attempt(realRun('r-real-torn', 10), 1)).rejects.toThrow(/simulated crash/);
    const ck4 = runKeys.checkpoint('r-real-torn', 'ssl', 4, 1);
    const ck8 = runKeys.checkpoint('r-real-torn', 'ssl', 8, 1);
    expect(await store.exists(ck8.manifest)).toBe(true);
    const blob = await store.get(ck8.blob);
    await store.put(ck8.blob, blob.subarray(0, blob.length - 100));
    const torn = runKeys.checkpoint('r-real-torn', 'ssl', 12, 2);
    await store.put(torn.blob, blob);
    const warnings: Array<{ message: string; meta?: Record<string, unknown> }> = [];
    const logger = {
      log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, error: () => undefined,
      warn: (message: string, meta?: Record<string, unknown>) => void warnings.push({ message, ...(meta ? { meta } : {}) }),
    };
    const env = new MockActivityEnvironment({ attempt: 3, heartbeatDetails: { stage: 'ssl', step: 10, totalSteps: 12, checkpointKey: ck8.blob, manifestKey: ck8.manifest, checkpointStep: 8 } }, { logger });
    const out: TrainOutput = await env.run(() => runTraining(deps, realRun('r-real-torn')));
    expect(out.resumedFromStep).toBe(4);
    expect(out.weights.sha256).toBe(reference.weights.sha256);
    const corrupt = warnings.filter((w) => /corrupt/.test(w.message));
    expect(corrupt.map((w) => w.meta?.key)).toContain(ck8.blob);
    expect(warnings.some((w) => w.meta?.key === torn.blob || w.meta?.key === torn.manifest)).toBe(false); // never considered: no manifest
    expect(ck4.blob).not.toBe(ck8.blob);
  }, 180_000);

  it('prefers the newest durable checkpoint over an older one named by a throttled heartbeat', async () => {
    await attempt({ ...run('r-throttled', 20), createTrainer: async () => Object.assign(fakeTrainer(12), { totalSteps: 12 }) }, 1);
    await store.delete([runKeys.trainDone('r-throttled', 'ssl')]);
    const ck5 = runKeys.checkpoint('r-throttled', 'ssl', 5, 1);
    const out = await attempt(run('r-throttled', 20), 2, { stage: 'ssl', step: 7, totalSteps: 20, checkpointKey: ck5.blob, manifestKey: ck5.manifest, checkpointStep: 5 });
    expect(out.resumedFromStep).toBe(10);
  });

  it('never resumes from a checkpoint of another input (fingerprint)', async () => {
    await attempt({ ...run('r-fp', 12), createTrainer: async () => Object.assign(fakeTrainer(7), { totalSteps: 7 }) }, 1);
    await store.delete([runKeys.trainDone('r-fp', 'ssl')]);
    const out = await attempt(run('r-fp', 12, undefined, { v: 2 }), 2);
    expect(out.resumedFromStep).toBe(0);
  });

  it('continues from an earlier run\'s checkpoint (same weights as from step 0), and a retry after a crash still reports it', async () => {
    const reference = await attempt(run('r-cont-ref', 23), 1);
    const source = await attempt(run('r-cont-src', 12, undefined, { v: 'shorter' }), 1);
    const continueFrom: SslContinuation = {
      sourceRunId: 'r-cont-src', step: 10, manifestKey: runKeys.checkpoint('r-cont-src', 'ssl', 10, 1).manifest, checkpoint: source.lastCheckpoint!, backend: deps.backend(),
    };
    const steps: number[] = [];
    const out = await attempt({ ...run('r-cont', 23, steps), continueFrom }, 1);
    expect(out).toMatchObject({ resumedFromStep: 10, continuedFrom: { runId: 'r-cont-src', step: 10 } });
    expect(steps[0]).toBe(11);
    expect(out.weights.sha256).toBe(reference.weights.sha256);
    const log = JSON.parse(new TextDecoder().decode(await store.get(out.lossLog.key))) as { points: Array<{ step: number }> };
    expect(log.points.map((p) => p.step)).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));

    // A retry (the completion lost) resumes from the run's own checkpoint (20), which carries the continuation.
    await store.delete([runKeys.trainDone('r-cont', 'ssl')]);
    const retried = await attempt({ ...run('r-cont', 23), continueFrom }, 2);
    expect(retried).toMatchObject({ resumedFromStep: 20, continuedFrom: { runId: 'r-cont-src', step: 10 } });
    expect(retried.weights.sha256).toBe(reference.weights.sha256);
  });

  it('trains from step 0 when the earlier checkpoint is of another backend, corrupt, or not the one its manifest names', async () => {
    const reference = await attempt(run('r-cfb-ref', 23), 1);
    const source = await attempt(run('r-cfb-src', 12, undefined, { v: 'shorter' }), 1);
    const good: SslContinuation = {
      sourceRunId: 'r-cfb-src', step: 10, manifestKey: runKeys.checkpoint('r-cfb-src', 'ssl', 10, 1).manifest, checkpoint: source.lastCheckpoint!, backend: deps.backend(),
    };
    const cases: Array<[string, SslContinuation]> = [
      ['backend', { ...good, backend: { ...good.backend, tfVersion: '9' } }],
      ['kernel path', { ...good, backend: { ...good.backend, oneDnnOpts: '0' } }],
      ['sha256', { ...good, checkpoint: { ...good.checkpoint, sha256: 'f'.repeat(64) } }],
      ['step', { ...good, step: 5 }],
      ['manifest', { ...good, manifestKey: runKeys.checkpoint('r-cfb-src', 'ssl', 5, 1).manifest }],
    ];
    for (const [name, continueFrom] of cases) {
      const steps: number[] = [];
      const out = await attempt({ ...run(`r-cfb-${name}`, 23, steps), continueFrom }, 1);
      expect(out.resumedFromStep, name).toBe(0);
      expect(out.continuedFrom, name).toBeUndefined();
      expect(steps[0], name).toBe(1);
      expect(out.weights.sha256, name).toBe(reference.weights.sha256);
    }
  });

  it('returns the stored result after a lost completion, without training again', async () => {
    const first = await attempt(run('r-done', 9), 1);
    const steps: number[] = [];
    const again = await attempt(run('r-done', 9, steps), 2);
    expect(again).toEqual(first);
    expect(steps).toEqual([]);
  });

  it('prepares its data (images, the round-trip mask) only when it trains: a retry after a lost completion reads none and returns the extras stored with the result', async () => {
    let prepared = 0;
    const data = { leftOutLabels: { count: 3, of: 10, maxRoundTrip: 2 } };
    const r = (): TrainingRun<typeof data> => ({
      ...run('r-prepare', 9),
      prepare: async () => {
        prepared++;
        return data;
      },
      createTrainer: async (d, c) => {
        expect(d).toBe(data);
        return fakeTrainer(9, c);
      },
      outputExtras: (d) => ({ leftOutLabels: d.leftOutLabels }),
    });
    const first = await attempt(r(), 1);
    expect(prepared).toBe(1);
    expect(first.leftOutLabels).toEqual(data.leftOutLabels);
    const again = await attempt(r(), 2);
    expect(prepared).toBe(1);
    expect(again).toEqual(first);
  });

  it('stops with CancelledFailure when cancelled between steps', async () => {
    const env = new MockActivityEnvironment({ attempt: 1 });
    const p = env.run(() =>
      runTraining(deps, { ...run('r-cancel', 1_000_000), createTrainer: async () => fakeTrainer(1_000_000) }),
    );
    setTimeout(() => env.cancel(), 50);
    await expect(p).rejects.toBeInstanceOf(CancelledFailure);
  });
});
