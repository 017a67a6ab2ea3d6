/**
 * Fault tests of the durable pipeline (docs/reliability.md#f1, #f5, #f6, #f15, #b6) on a PRIVATE real
 * stack (Temporal dev server + SeaweedFS with their own ports and data dir), so stopping S3 and
 * restarting Temporal never disturbs the shared dev stack. Smoke profile with a longer SSL stage
 * (150 steps, checkpoint every 10) on the synthetic 6 + 3 image dataset.
 *
 * - kill -9 of the GPU worker CHILD PROCESS mid-SSL + a new worker → completes, resumed from a
 *   checkpoint (not step 0), final weights and metrics equal an uninterrupted run's;
 * - S3 stopped for 20 s mid-SSL → completes with the same result;
 * - Temporal dev server restarted (same SQLite file) mid-SSL → completes with the same result;
 * - `cc2d cancel` mid-SSL → cancelled within a heartbeat, checkpoints kept; `cc2d resume` → the
 *   uninterrupted run's weights; `cc2d cancel --purge` → no object of the run left;
 * - a bad config → `cc2d run` exits 2 naming the field; no workflow started;
 * - `cc2d run --profile smoke --json` (CLI, local workers in-process) and `cc2d runs list --json`.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import proto from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { runPrefix } from '../../infra/storage/keys';
import type { PipelineResult } from '../../contracts/types';
import { listRuns } from '../../cli/commands/runs';
import { searchAttributesOf, timestampMs } from '../../cli/pipeline-client';
import { datasetPrefix } from '../../infra/dataset/published';
import { isPublished } from '../../infra/storage/manifest';
import { restartTemporal, startS3, stopS3 } from '../../infra/stack/dev-stack';
import {
  ChildProcesses, FAULT_CONFIG, checkpointSteps, expectNoOrphans, faultFileHooks, reportOf, resultOf, runOnChildWorker, sameResult, sleep, uninterruptedRun,
  waitForCheckpoints,
} from './support/fault-runs';
import { createHarness, type PipelineHarness } from './support/harness';
import { startIsolatedStack, type IsolatedStack } from './support/isolated-stack';

const stack = await startIsolatedStack('faults');
const h = stack ? await createHarness('faults', { stack }) : undefined;
const kids = new ChildProcesses(stack?.childEnv ?? {});
const spawnCli = kids.spawnCli.bind(kids);

describe.skipIf(!h)('faults on a private real stack', () => {
  const H = h as PipelineHarness;
  const S = stack as IsolatedStack;
  let baseline: PipelineResult;

  faultFileHooks(H, S, kids);

  it('an uninterrupted run (the reference for the fault runs)', async () => {
    baseline = await uninterruptedRun(H, FAULT_CONFIG);
  }, 240_000);

  it('kill -9 of the GPU worker process mid-SSL: a new worker resumes from a checkpoint; same weights and metrics', async () => {
    const { gpuQueue, worker: first, handle, before } = await runOnChildWorker(H, kids, FAULT_CONFIG, { queue: 'child', worker: 'child-1', run: 'kill9' });
    first.child.kill('SIGKILL');
    const killedAt = Date.now();
    console.log(`killed the GPU worker after SSL checkpoints at steps ${before.join(', ')}`);
    await kids.spawnWorker('child-2', gpuQueue);
    const r = await resultOf(handle);
    console.log(`run completed ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);

    const report = await reportOf(H, r);
    expect(report.stages.ssl.attempt).toBeGreaterThanOrEqual(2);
    expect(report.stages.ssl.resumedFromStep).toBeGreaterThanOrEqual(Math.max(...before));
    expect(report.stages.ssl.resumedFromStep % 10).toBe(0);
    const lossLog = JSON.parse(new TextDecoder().decode(await H.deps.store.get((await H.deps.store.list(`${runPrefix(r.runId)}/ssl/loss-`))[0]!.key))) as { resumedAtSteps: number[]; points: Array<{ step: number }> };
    expect(lossLog.resumedAtSteps).toContain(report.stages.ssl.resumedFromStep);
    expect(lossLog.points.map((p) => p.step)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));

    // History: the attempt that completed SSL ran on the new worker after a heartbeat timeout.
    const history = await handle.fetchHistory();
    const sslScheduled = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'trainSelfSupervised')!;
    const started = history.events!.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(sslScheduled.eventId))!;
    expect(started.activityTaskStartedEventAttributes!.identity).toBe('child-2/gpu');
    expect(started.activityTaskStartedEventAttributes!.attempt).toBeGreaterThanOrEqual(2);
    expect(started.activityTaskStartedEventAttributes!.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(proto.temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);

    sameResult(r, baseline);
    await expectNoOrphans(H, r.runId);
  }, 300_000);

  it('S3 down for 20 s mid-SSL: retried with heartbeats, completes with the same result', async () => {
    const handle = await H.start(H.input(FAULT_CONFIG), H.runId('s3down'));
    await waitForCheckpoints(H, handle.workflowId, 1);
    await stopS3(S.layout, { signal: 'SIGKILL' });
    const downAt = Date.now();
    await sleep(20_000);
    await startS3(S.layout, { timeoutMs: 60_000 });
    console.log(`S3 was down ${((Date.now() - downAt) / 1000).toFixed(1)} s`);
    const r = await resultOf(handle);
    sameResult(r, baseline);
    await expectNoOrphans(H, r.runId);
  }, 300_000);

  it('Temporal dev server restarted (same SQLite file) mid-SSL: completes with the same result', async () => {
    const handle = await H.start(H.input(FAULT_CONFIG), H.runId('temporal-restart'));
    await waitForCheckpoints(H, handle.workflowId, 1);
    const t0 = Date.now();
    await restartTemporal(S.layout, { timeoutMs: 60_000 });
    console.log(`Temporal restarted in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const r = await resultOf(handle);
    sameResult(r, baseline);
    await expectNoOrphans(H, r.runId);
  }, 300_000);

  it('cancel mid-SSL keeps the checkpoints (status cancelled, seen within one heartbeat); `cc2d resume` ends with the uninterrupted weights', async () => {
    const handle = await H.start(H.input(FAULT_CONFIG), H.runId('cancel-resume'));
    const runId = handle.workflowId;
    const before = await waitForCheckpoints(H, runId, 1);
    const cancel = spawnCli(['cancel', runId], S.childEnv);
    expect(await cancel.exit, cancel.err()).toBe(0);
    expect(cancel.out()).toMatch(/CANCELLED \(checkpoints kept/);

    // The SSL activity noticed the cancellation within one heartbeat timeout (heartbeats go out more often).
    const history = await handle.fetchHistory();
    const sslScheduled = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'trainSelfSupervised')!;
    const ofSsl = (e: { scheduledEventId?: unknown } | null | undefined): boolean => String(e?.scheduledEventId) === String(sslScheduled.eventId);
    const requested = history.events!.find((e) => ofSsl(e.activityTaskCancelRequestedEventAttributes));
    const cancelled = history.events!.find((e) => ofSsl(e.activityTaskCanceledEventAttributes));
    expect(requested && cancelled).toBeTruthy();
    const noticedMs = timestampMs(cancelled!.eventTime)! - timestampMs(requested!.eventTime)!;
    console.log(`SSL activity stopped ${noticedMs} ms after the cancel request (checkpoints at steps ${before.join(', ')})`);
    expect(noticedMs).toBeLessThanOrEqual(FAULT_CONFIG.heartbeatTimeoutSeconds * 1000);

    expect((await handle.describe()).status.name).toBe('CANCELLED');
    expect(searchAttributesOf((await handle.describe()) as never)).toMatchObject({ status: 'cancelled', runId });
    const kept = await checkpointSteps(H, runId, 'ssl');
    for (const step of before) expect(kept).toContain(step);
    expect(await isPublished(H.deps.store, runPrefix(runId))).toBe(false);

    const resume = spawnCli(['resume', runId, '--detach', '--json'], S.childEnv);
    expect(await resume.exit, resume.err()).toBe(0);
    const r = await resultOf(H.client.workflow.getHandle(runId));
    const report = await reportOf(H, r);
    expect(report.stages.ssl.resumedFromStep).toBeGreaterThanOrEqual(Math.max(...before));
    expect(report.stages.ssl.resumedFromStep).toBeGreaterThan(0);
    sameResult(r, baseline);
    await expectNoOrphans(H, runId);
  }, 300_000);

  it('`cc2d cancel --purge` mid-SSL: the run is cancelled and none of its objects remain; the dataset stays published', async () => {
    const handle = await H.start(H.input(FAULT_CONFIG), H.runId('cancel-purge'));
    await waitForCheckpoints(H, handle.workflowId, 1);
    const cancel = spawnCli(['cancel', handle.workflowId, '--purge'], S.childEnv);
    expect(await cancel.exit, cancel.err()).toBe(0);
    expect(cancel.out()).toMatch(/CANCELLED; purged \d+ unpublished objects/);
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(await H.deps.store.list(`${runPrefix(handle.workflowId)}/`)).toEqual([]);
    expect(await isPublished(H.deps.store, runPrefix(handle.workflowId))).toBe(false);
    expect(searchAttributesOf((await handle.describe()) as never)).toMatchObject({ status: 'cancelled', runId: handle.workflowId });
    expect(await isPublished(H.deps.store, datasetPrefix(baseline.datasetVersion))).toBe(true);
  }, 180_000);

  it('`cc2d run` with a template from the test split exits 2 naming the field, and starts no workflow', async () => {
    const site = `${H.site}-badcli`.slice(0, 48);
    const p = spawnCli(['run', '--profile', 'smoke', '--dataset', H.dataset.root, '--template', H.dataset.test1[0]!, '--site', site, '--json'], S.childEnv);
    expect(await p.exit).toBe(2);
    expect(p.err()).toMatch(/config\.templateId: "007" is in test split "test1"/);
    expect(p.out()).toBe('');
    await sleep(1500);
    expect(await listRuns({ site })).toEqual([]);
  }, 120_000);

  it('`cc2d run --profile smoke --json` hosts workers in-process and prints metrics + report key last; `runs list --json` lists it', async () => {
    const site = `${H.site}-cli`.slice(0, 48);
    const t0 = Date.now();
    const p = spawnCli(['run', '--profile', 'smoke', '--dataset', H.dataset.root, '--template', H.dataset.train[1]!, '--site', site, '--json'], S.childEnv);
    expect(await p.exit, p.err()).toBe(0);
    console.log(`cc2d run --profile smoke (CLI, fresh process): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const last = JSON.parse(p.out().trim().split('\n').at(-1)!) as PipelineResult;
    expect(last).toMatchObject({ status: 'completed', datasetReused: true });
    expect(last.reportKey).toMatch(/report-[0-9a-f]{64}\.json$/);
    expect(Number.isFinite(last.mreMm)).toBe(true);
    expect(p.err()).toMatch(/hosting workflows\+gpu\+cpu in this process/);

    const list = spawnCli(['runs', 'list', '--site', site, '--json'], S.childEnv);
    expect(await list.exit, list.err()).toBe(0);
    const rows = JSON.parse(list.out().trim().split('\n').at(-1)!) as Array<{ runId: string; mreMm: number; status: string }>;
    expect(rows.map((r) => r.runId)).toContain(last.runId);
    expect(rows.find((r) => r.runId === last.runId)).toMatchObject({ status: 'completed' });
  }, 180_000);
});
