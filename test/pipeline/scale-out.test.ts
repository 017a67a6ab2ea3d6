/**
 * Scale-out on the REAL Temporal dev server and S3 (the shared stack: only a worker is killed,
 * no server): 3 `cc2d worker --queues gpu --allow-cpu` and 2 `cc2d worker --queues cpu` processes,
 * the workflow queue polled by this test process, 6 smoke runs started at once with 3
 * pseudo-label shards each, and one GPU worker killed (-9) while it executes a shard. Asserted:
 * - every run completes;
 * - the killed shard ran again after a heartbeat timeout (attempt > the killed one) on another
 *   GPU worker, and completed once; no other activity ran twice;
 * - each run's pseudo-label objects in S3 are exactly its 3 shard files (no missing, extra or
 *   orphan key; one version per key if the bucket keeps versions), and every object of a run is
 *   in its manifest or checkpoint state;
 * - each run's SSL and TPL weights, pseudo-label shards, predictions and metrics are byte-equal
 *   (sha256) to the same config run alone by one worker (metrics after replacing the run id, the
 *   one run-scoped field they hold).
 * Peak RSS of each worker process and of this process is printed. Synthetic 12 + 3 images.
 */
import { createHash } from 'node:crypto';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineResult } from '../../contracts/types';
import { runPrefix } from '../../infra/storage/keys';
import { hostWorkers } from '../../workers/local';
import { ChildProcesses, expectNoOrphans, resultOf, sameResult, type CliProcess, type History } from './support/fault-runs';
import { createHarness, type PipelineHarness } from './support/harness';
import { groupPeakRssMiB, killWorkerMidShard, objectVersions } from './support/scale-out';

// Shards heavy enough (12 images each at 128 px) that a GPU worker is caught executing one even
// on a fast, quiet machine; at 64 px and 4 images a shard finished between two looks.
const h = await createHarness('scale-out', { dataset: { train: 36, test1: 3 } });
const RUNS = 6;
const SHARDS = 3;
const CONFIG = { pseudoLabelShards: SHARDS, heartbeatTimeoutSeconds: 5, overrides: { inputSize: 128 } } as const;
const GPU_WORKERS = ['scale-gpu-1', 'scale-gpu-2', 'scale-gpu-3'];
const CPU_WORKERS = ['scale-cpu-1', 'scale-cpu-2'];
const GPU_ACTIVITIES = new Set(['trainSelfSupervised', 'generatePseudoLabels', 'trainSupervised']);

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Shard files named relative to their run: `pseudo-labels/shard-<i>-of-<n>-<sha256>.json`. */
function shardNames(r: PipelineResult): string[] {
  return r.artifacts.pseudoLabels.map((ref) => ref.key.slice(runPrefix(r.runId).length + 1)).sort();
}

/** Activity starts of a history: activity type, attempt and worker identity, by scheduled event id. */
function activityStarts(history: History): Map<string, { type: string; activityId: string; attempt: number; identity: string; lastFailure: proto.temporal.api.failure.v1.IFailure | null | undefined }> {
  const events = history.events ?? [];
  const scheduled = new Map(events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!]));
  const starts = new Map<string, { type: string; activityId: string; attempt: number; identity: string; lastFailure: proto.temporal.api.failure.v1.IFailure | null | undefined }>();
  for (const e of events) {
    const s = e.activityTaskStartedEventAttributes;
    if (!s) continue;
    const sched = scheduled.get(String(s.scheduledEventId))!;
    starts.set(String(s.scheduledEventId), { type: sched.activityType!.name!, activityId: sched.activityId!, attempt: s.attempt ?? 1, identity: s.identity ?? '', lastFailure: s.lastFailure });
  }
  return starts;
}

describe.skipIf(!h)('scale-out: 3 GPU + 2 CPU worker processes, 6 runs, a GPU worker killed mid-shard', () => {
  const H = h as PipelineHarness;
  const env = { ...process.env, CC2D_S3_PREFIX: H?.stack.settings.s3.prefix, CC2D_TEMPORAL_NAMESPACE: H?.stack.namespace };
  const kids = new ChildProcesses(env);
  const workers = new Map<string, CliProcess>();
  let alone: PipelineResult;

  beforeAll(async () => {
    const t0 = Date.now();
    await H.workers(['workflows'], 'scale-wf');
    // The reference: the same config alone, on queues of its own served by one in-process worker,
    // while the worker processes start.
    const aloneQueues = { gpu: `${H.queues.gpu}-alone`, cpu: `${H.queues.cpu}-alone` };
    const reference = (async () => {
      const w = await hostWorkers({ roles: ['gpu', 'cpu'], settings: H.stack.settings, deps: H.deps, connection: H.connection, taskQueues: aloneQueues, identityPrefix: 'scale-alone' });
      H.hosted.push(w);
      alone = await resultOf(await H.start(H.input({ ...CONFIG, taskQueues: aloneQueues }), H.runId('alone')));
      await w.shutdown();
    })();
    const spawn = (name: string, args: string[]) =>
      kids.spawnQueueWorker(name, args, { ownGroup: true, readyTimeoutMs: 180_000 }).then((w) => void workers.set(name, w));
    await Promise.all([
      reference,
      ...GPU_WORKERS.map((name) => spawn(name, ['--queues', 'gpu', '--allow-cpu', '--gpu-queue', H.queues.gpu])),
      ...CPU_WORKERS.map((name) => spawn(name, ['--queues', 'cpu', '--cpu-queue', H.queues.cpu])),
    ]);
    expect(alone.status).toBe('completed');
    console.log(`scale-out: reference run and ${workers.size} worker processes ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 300_000);

  afterAll(async () => {
    kids.killAll();
    await H?.cleanup();
  }, 120_000);

  it(`${RUNS} runs with ${SHARDS} shards each on 3 GPU + 2 CPU workers, a GPU worker killed mid-shard: all complete, nothing lost or duplicated, each equal to the run alone`, async () => {
    const t0 = Date.now();
    const handles = await Promise.all(Array.from({ length: RUNS }, (_, i) => H.start(H.input(CONFIG), H.runId(`scale${i}`))));
    let finished = false;
    const gpuWorkers = new Map(GPU_WORKERS.map((name) => [name, workers.get(name)!]));
    const killing = killWorkerMidShard(kids, gpuWorkers, handles, () => finished);
    const results = await Promise.all(handles.map((x) => resultOf(x))).finally(() => (finished = true));
    const killed = await killing;
    const wallS = (Date.now() - t0) / 1000;

    const rss: Record<string, number> = {};
    for (const [name, w] of workers) if (name !== killed?.identity) rss[name] = (await groupPeakRssMiB(w.child.pid!)).peakMiB;
    rss['test process (workflow worker + reference workers)'] = Math.round(process.resourceUsage().maxRSS / 1024);
    console.log(`scale-out: ${RUNS} runs in ${wallS.toFixed(1)} s; killed ${killed?.identity} ${((killed?.afterMs ?? 0) / 1000).toFixed(1)} s after the start, running shard activity ${killed?.activityId} (attempt ${killed?.attempt}) of ${killed?.runId} after ${killed?.misses} shard(s) frozen too late; peak RSS MiB ${JSON.stringify(rss)}`);

    expect(killed, 'no GPU worker was caught executing a pseudo-label shard').toBeDefined();
    expect(results.map((r) => r.runId)).toEqual(handles.map((x) => x.workflowId));
    const perWorker = new Map<string, number>();
    const versioned = (await objectVersions(H.stack.settings, 'runs/')) !== undefined;
    console.log(`scale-out: bucket ${H.stack.settings.s3.bucket} ${versioned ? 'keeps versions: one version per shard key asserted' : 'is unversioned: a key holds one object'}`);
    for (const [i, r] of results.entries()) {
      expect(r.status).toBe('completed');
      const starts = activityStarts(await handles[i]!.fetchHistory());
      // Every activity ran on the worker processes of its queue, each exactly once to completion.
      for (const s of starts.values()) {
        const worker = s.identity.split('/')[0]!;
        expect(GPU_ACTIVITIES.has(s.type) ? GPU_WORKERS : CPU_WORKERS).toContain(worker);
        perWorker.set(worker, (perWorker.get(worker) ?? 0) + 1);
      }
      expect([...starts.values()].filter((s) => s.type === 'generatePseudoLabels')).toHaveLength(SHARDS);
      // Nothing but the killed shard ran twice.
      const again = [...starts.values()].filter((s) => s.attempt > 1).map((s) => `${r.runId}/${s.activityId}`);
      expect(again).toEqual(r.runId === killed!.runId ? [`${r.runId}/${killed!.activityId}`] : []);

      if (r.runId === killed!.runId) {
        const retried = [...starts.values()].find((s) => s.activityId === killed!.activityId)!;
        expect(retried.type).toBe('generatePseudoLabels');
        expect(retried.attempt).toBeGreaterThan(killed!.attempt);
        expect(retried.identity.startsWith(`${killed!.identity}/`)).toBe(false);
        expect(retried.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(proto.temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
      }

      // S3: exactly the run's shard files under pseudo-labels/, nothing outside its manifest.
      const stored = (await H.deps.store.list(`${runPrefix(r.runId)}/pseudo-labels/`)).map((o) => o.key).sort();
      expect(stored).toEqual(r.artifacts.pseudoLabels.map((ref) => ref.key).sort());
      if (versioned) {
        const versions = (await objectVersions(H.stack.settings, `${runPrefix(r.runId)}/pseudo-labels/`))!;
        expect([...versions].filter(([, n]) => n !== 1)).toEqual([]);
      }
      await expectNoOrphans(H, r.runId);

      // Byte-equal to the run alone.
      sameResult(r, alone);
      expect(shardNames(r)).toEqual(shardNames(alone));
      expect(r.artifacts.predictions.sha256).toBe(alone.artifacts.predictions.sha256);
      expect(await runIndependentSha(r)).toBe(await runIndependentSha(alone));
    }
    console.log(`scale-out: activities per worker ${JSON.stringify(Object.fromEntries([...perWorker].sort()))}`);
  }, 480_000);

  /** sha256 of the run's metrics file with its run id replaced (it names the run-scoped SSL weights key). */
  async function runIndependentSha(r: PipelineResult): Promise<string> {
    const text = new TextDecoder().decode(await H.deps.store.get(r.artifacts.metrics.key, r.artifacts.metrics.sha256));
    return sha256(new TextEncoder().encode(text.split(r.runId).join('<run>')));
  }
});
