/**
 * Graceful drain (docs/reliability.md#f3) and frozen-worker fencing (#f4) on a PRIVATE real stack
 * (own ports: runs beside faults.test.ts and corrupt-bytes.test.ts), with `cc2d worker` child
 * processes on a GPU queue of their own. SSL runs 400 steps (checkpoint every 10), long enough that
 * the worker's 10 s shutdown grace time ends while it still trains.
 *
 * - SIGTERM of the training worker → it stops polling and exits; the SSL attempt checkpoints and
 *   fails retryably (WorkerShutdown); the retry starts on another worker without any heartbeat
 *   timeout in the history and resumes from the drain checkpoint; the uninterrupted weights;
 * - SIGSTOP of the training worker past the heartbeat timeout, SIGCONT once the retry wrote a newer
 *   checkpoint → the stale attempt replaces no checkpoint manifest, the history holds no result of
 *   it (the server takes the retry's completion only); the uninterrupted weights.
 */
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import type { PipelineResult } from '../../contracts/types';
import { runPrefix } from '../../infra/storage/keys';
import { timestampMs } from '../../cli/pipeline-client';
import { ChildProcesses, FAULT_CONFIG, expectNoOrphans, faultFileHooks, reportOf, resultOf, runOnChildWorker, sameResult, sleep, uninterruptedRun } from './support/fault-runs';
import { createHarness, type PipelineHarness } from './support/harness';
import { startIsolatedStack, type IsolatedStack } from './support/isolated-stack';

const stack = await startIsolatedStack('drain-fencing', { portOffset: 20 });
const h = stack ? await createHarness('drain-fencing', { stack }) : undefined;
const kids = new ChildProcesses(stack?.childEnv ?? {});

const DRAIN_CONFIG = { ...FAULT_CONFIG, overrides: { ssl: { steps: 400 } } } as const;
const { TimeoutType } = proto.temporal.api.enums.v1;

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The SSL activity's (last) started event and its closing events (completed, failed, cancelled, timed out). */
function sslEvents(events: HistoryEvent[]): { started: HistoryEvent; completed: HistoryEvent | undefined; closed: HistoryEvent[] } {
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'trainSelfSupervised')!;
  const ofSsl = (a: { scheduledEventId?: unknown } | null | undefined): boolean => String(a?.scheduledEventId) === String(scheduled.eventId);
  return {
    started: events.find((e) => ofSsl(e.activityTaskStartedEventAttributes))!,
    completed: events.find((e) => ofSsl(e.activityTaskCompletedEventAttributes)),
    closed: events.filter((e) =>
      [e.activityTaskCompletedEventAttributes, e.activityTaskFailedEventAttributes, e.activityTaskCanceledEventAttributes, e.activityTaskTimedOutEventAttributes].some(ofSsl),
    ),
  };
}

/** Every checkpoint manifest of the run's SSL stage, key → bytes. */
async function sslManifests(H: PipelineHarness, runId: string): Promise<Map<string, string>> {
  const keys = (await H.deps.store.list(`${runPrefix(runId)}/ssl/ckpt/`)).map((o) => o.key).filter((k) => k.endsWith('/manifest.json'));
  const dec = new TextDecoder();
  return new Map(await Promise.all(keys.map(async (k) => [k, dec.decode(await H.deps.store.get(k))] as const)));
}

describe.skipIf(!h)('drain and fencing on a private real stack', () => {
  const H = h as PipelineHarness;
  const S = stack as IsolatedStack;
  let baseline: PipelineResult;

  faultFileHooks(H, S, kids);

  it('an uninterrupted run (the reference for the fault runs)', async () => {
    baseline = await uninterruptedRun(H, DRAIN_CONFIG);
  }, 300_000);

  it('SIGTERM of the training worker: it drains and checkpoints; the retry starts with no heartbeat timeout; same weights', async () => {
    const { gpuQueue, worker: first, handle, before } = await runOnChildWorker(H, kids, DRAIN_CONFIG, { queue: 'drain', worker: 'drain-1', run: 'drain' });
    first.child.kill('SIGTERM');
    const termAt = Date.now();
    await kids.spawnWorker('drain-2', gpuQueue);
    expect(await first.exit, first.err()).toBe(0);
    expect(first.out()).toMatch(/cc2d worker stopped/);
    console.log(`SIGTERM after SSL checkpoints at steps ${before.join(', ')}; the worker exited ${((Date.now() - termAt) / 1000).toFixed(1)} s later`);
    const r = await resultOf(handle);

    const events = (await handle.fetchHistory()).events!;
    expect(events.filter((e) => e.activityTaskTimedOutEventAttributes)).toEqual([]);
    const { started, completed } = sslEvents(events);
    const attrs = started.activityTaskStartedEventAttributes!;
    expect(attrs.identity).toBe('drain-2/gpu');
    expect(attrs.attempt).toBeGreaterThanOrEqual(2);
    expect(attrs.lastFailure?.timeoutFailureInfo).toBeFalsy();
    expect(attrs.lastFailure?.applicationFailureInfo?.type).toBe('WorkerShutdown');
    expect(attrs.lastFailure?.applicationFailureInfo?.nonRetryable).toBeFalsy();
    expect(completed?.activityTaskCompletedEventAttributes?.identity).toBe('drain-2/gpu');
    // The drained worker took no task after the signal: nothing in the history started on it.
    expect(events.filter((e) => e.activityTaskStartedEventAttributes?.identity === 'drain-1/gpu')).toEqual([]);
    const retryStartedAfterMs = timestampMs(started.eventTime)! - termAt;
    console.log(`SSL retry started ${(retryStartedAfterMs / 1000).toFixed(1)} s after SIGTERM`);

    // The retry resumed from the checkpoint the drain wrote: the newest one of attempt 1, at or past the last one seen.
    const report = await reportOf(H, r);
    const drainSteps = [...(await sslManifests(H, r.runId)).keys()].filter((k) => /-a1\/manifest\.json$/.test(k)).map((k) => Number(/ckpt\/(\d+)-a1\//.exec(k)![1]));
    expect(report.stages.ssl.resumedFromStep).toBe(Math.max(...drainSteps));
    expect(report.stages.ssl.resumedFromStep).toBeGreaterThan(Math.max(...before));
    sameResult(r, baseline);
    await expectNoOrphans(H, r.runId);
  }, 400_000);

  it('SIGSTOP of the training worker past the heartbeat timeout, SIGCONT after the retry checkpointed: the stale attempt replaces nothing and completes nothing; same weights', async () => {
    const { gpuQueue, worker: frozen, handle, before } = await runOnChildWorker(H, kids, DRAIN_CONFIG, { queue: 'frozen', worker: 'frozen-1', run: 'frozen' });
    const runId = handle.workflowId;
    frozen.child.kill('SIGSTOP');
    console.log(`SIGSTOP after SSL checkpoints at steps ${before.join(', ')}`);
    await kids.spawnWorker('frozen-2', gpuQueue);

    // Wait for a checkpoint of a later attempt (the retry on frozen-2), then wake the stale attempt.
    const t0 = Date.now();
    let newer: Map<string, string>;
    for (;;) {
      newer = await sslManifests(H, runId);
      if ([...newer.keys()].some((k) => !/-a1\/manifest\.json$/.test(k))) break;
      if (Date.now() - t0 > 120_000) throw new Error('no checkpoint of a retry within 120 s');
      await sleep(200);
    }
    frozen.child.kill('SIGCONT');
    const r = await resultOf(handle);

    // Nothing written before the stale attempt woke up was replaced.
    const after = await sslManifests(H, runId);
    for (const [key, body] of newer) expect(after.get(key), key).toBe(body);
    const lateStale = [...after.keys()].filter((k) => !newer.has(k) && /-a1\/manifest\.json$/.test(k));
    console.log(`checkpoints the stale attempt wrote after SIGCONT (beside, never over, newer ones): ${lateStale.length === 0 ? 'none' : lateStale.map((k) => /ckpt\/(\d+-a1)/.exec(k)![1]).join(', ')}`);
    const events = (await handle.fetchHistory()).events!;
    const { started, completed, closed } = sslEvents(events);
    expect(started.activityTaskStartedEventAttributes!.identity).toBe('frozen-2/gpu');
    expect(started.activityTaskStartedEventAttributes!.attempt).toBeGreaterThanOrEqual(2);
    expect(started.activityTaskStartedEventAttributes!.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
    // The server recorded the retry's completion only; the stale attempt's result never entered the history.
    expect(closed).toEqual([completed]);
    expect(completed?.activityTaskCompletedEventAttributes?.identity).toBe('frozen-2/gpu');

    sameResult(r, baseline);
    await expectNoOrphans(H, runId);
  }, 400_000);
});
