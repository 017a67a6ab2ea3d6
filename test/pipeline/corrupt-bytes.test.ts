/**
 * Corrupt bytes on GET (docs/reliability.md#f7) on a PRIVATE real stack (own ports: runs beside
 * faults.test.ts and drain-fencing.test.ts). The GPU worker of each fault run talks to S3 through
 * a byte-flipping proxy (support/flip-proxy.ts) that corrupts the first N GETs of one key pattern
 * and drops the response checksums, so only the project's sha256 checks can notice:
 *
 * - a training image corrupted on its first reads → re-read within the same attempt; the run ends
 *   with the uninterrupted run's weights and metrics;
 * - a training image corrupted on every read → a non-retryable CorruptData failure naming the key
 *   after INTEGRITY_READS reads, one attempt, no checkpoint or weights written (nothing trained);
 * - a checkpoint blob corrupted on its first read when the retry after a kill -9 resumes → re-read,
 *   resumed from that (the newest) checkpoint, not an older one; the uninterrupted weights.
 * A checkpoint that stays corrupt is skipped for an older one (docs/reliability.md#f2), not fatal.
 */
import { ActivityFailure, ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { INTEGRITY_READS } from '../../activities/failures';
import type { PipelineResult } from '../../contracts/types';
import { runPrefix } from '../../infra/storage/keys';
import { buildActivityDeps, type WorkerDeps } from '../../workers/activity-deps';
import { hostWorkers, type HostedWorkers } from '../../workers/local';
import { ChildProcesses, FAULT_CONFIG, expectNoOrphans, faultFileHooks, reportOf, resultOf, runOnChildWorker, sameResult, uninterruptedRun } from './support/fault-runs';
import { startFlipProxy, type FlipProxy } from './support/flip-proxy';
import { createHarness, type PipelineHarness } from './support/harness';
import { startIsolatedStack, type IsolatedStack } from './support/isolated-stack';

const stack = await startIsolatedStack('corrupt-bytes', { portOffset: 40 });
const h = stack ? await createHarness('corrupt-bytes', { stack }) : undefined;
const kids = new ChildProcesses(stack?.childEnv ?? {});

describe.skipIf(!h)('corrupt bytes on GET, on a private real stack', () => {
  const H = h as PipelineHarness;
  const S = stack as IsolatedStack;
  const proxies: FlipProxy[] = [];
  const hosted: HostedWorkers[] = [];
  const proxiedDeps: WorkerDeps[] = [];
  let baseline: PipelineResult;

  /** A GPU worker (own connection) whose S3 traffic goes through a flipping proxy; by default on a queue of its own. */
  async function gpuWorkerBehindProxy(tag: string, pattern: RegExp, flips: number, gpuQueue = `${H.queues.gpu}-${tag}`): Promise<{ proxy: FlipProxy; gpuQueue: string }> {
    const proxy = await startFlipProxy(S.settings.s3.endpoint!, { pattern, flips });
    proxies.push(proxy);
    const settings = { ...S.settings, s3: { ...S.settings.s3, endpoint: proxy.endpoint } };
    const deps = await buildActivityDeps(settings, { allowCpu: true });
    proxiedDeps.push(deps);
    hosted.push(await hostWorkers({ roles: ['gpu'], settings, deps, taskQueues: { gpu: gpuQueue }, identityPrefix: `proxied-${tag}` }));
    return { proxy, gpuQueue };
  }

  const imageKey = (id: string): RegExp => new RegExp(`/datasets/[^/]+/images/\\d+/${id}\\.png$`);

  faultFileHooks(H, S, kids, async () => {
    for (const w of hosted) await w.shutdown().catch(() => undefined);
    for (const d of proxiedDeps) d.store.destroy();
    for (const p of proxies) await p.close();
  });

  it('an uninterrupted run (the reference for the fault runs)', async () => {
    baseline = await uninterruptedRun(H, FAULT_CONFIG);
  }, 240_000);

  it('a training image corrupted on its first reads is re-read: same weights and metrics, one attempt', async () => {
    const id = H.dataset.train[0]!;
    const { proxy, gpuQueue } = await gpuWorkerBehindProxy('img-transient', imageKey(id), INTEGRITY_READS - 1);
    const r = await resultOf(await H.start(H.input({ ...FAULT_CONFIG, taskQueues: { gpu: gpuQueue } }), H.runId('img-transient')));
    expect(proxy.flippedKeys).toHaveLength(INTEGRITY_READS - 1);
    expect((await reportOf(H, r)).stages.ssl.attempt).toBe(1);
    sameResult(r, baseline);
    await expectNoOrphans(H, r.runId);
  }, 300_000);

  it('a training image corrupted on every read: non-retryable CorruptData naming the key, nothing trained', async () => {
    const id = H.dataset.train[0]!;
    const { proxy, gpuQueue } = await gpuWorkerBehindProxy('img-persistent', imageKey(id), 50);
    const handle = await H.start(H.input({ ...FAULT_CONFIG, taskQueues: { gpu: gpuQueue } }), H.runId('img-persistent'));
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const activityFailure = (err as WorkflowFailedError).cause;
    expect(activityFailure).toBeInstanceOf(ActivityFailure);
    expect((activityFailure as ActivityFailure).activityType).toBe('trainSelfSupervised');
    const cause = (activityFailure as ActivityFailure).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: 'CorruptData', nonRetryable: true });
    expect(cause.message).toMatch(new RegExp(`datasets/[^ ]+/images/\\d+/${id}\\.png`));
    expect(proxy.flippedKeys).toHaveLength(INTEGRITY_READS);

    const history = await handle.fetchHistory();
    const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes);
    const sslStarted = started.find((e) => e.activityTaskStartedEventAttributes!.identity === 'proxied-img-persistent/gpu')!;
    expect(sslStarted.activityTaskStartedEventAttributes!.attempt).toBe(1);
    const stored = (await H.deps.store.list(`${runPrefix(handle.workflowId)}/`)).map((o) => o.key);
    expect(stored.filter((k) => /\/ssl\//.test(k))).toEqual([]);
  }, 300_000);

  it('a checkpoint blob corrupted on its first read is re-read: the retry resumes from the newest checkpoint; same weights', async () => {
    const { gpuQueue, worker: first, handle } = await runOnChildWorker(H, kids, FAULT_CONFIG, { queue: 'ckpt', worker: 'direct-ckpt', run: 'ckpt-transient' });
    first.child.kill('SIGKILL');
    // The retry (after the heartbeat timeout) goes to the proxied worker and reads the newest checkpoint.
    const { proxy } = await gpuWorkerBehindProxy('ckpt', /\/ssl\/ckpt\/\d+-a\d+\/state\.ckpt$/, 1, gpuQueue);
    const r = await resultOf(handle);

    const ckpts = (await H.deps.store.list(`${runPrefix(r.runId)}/ssl/ckpt/`)).map((o) => o.key);
    const firstAttemptSteps = ckpts.filter((k) => /-a1\/manifest\.json$/.test(k)).map((k) => Number(/ckpt\/(\d+)-a1\//.exec(k)![1]));
    const report = await reportOf(H, r);
    console.log(`corrupted ${proxy.flippedKeys.join(', ')}; resumed at step ${report.stages.ssl.resumedFromStep}`);
    expect(proxy.flippedKeys).toHaveLength(1);
    expect(proxy.flippedKeys[0]).toMatch(/\/ssl\/ckpt\/\d+-a1\/state\.ckpt$/);
    expect(report.stages.ssl.attempt).toBeGreaterThanOrEqual(2);
    expect(report.stages.ssl.resumedFromStep).toBe(Math.max(...firstAttemptSteps));
    sameResult(r, baseline);
    await expectNoOrphans(H, r.runId);
  }, 300_000);
});
