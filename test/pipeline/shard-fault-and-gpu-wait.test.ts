/**
 * Two faults of the fan-out and the queues, on the shared real stack (Temporal dev server +
 * SeaweedFS; nothing is stopped, so no private stack is needed):
 * - one pseudo-label shard fails once (injected through the activities' `beforeShardPublish`
 *   seam, after matching, before storing): only that shard retries, its siblings run once, the
 *   label set is complete and nothing partial is stored;
 * - a run routed to a GPU queue nobody polls: `cc2d status`, the follow loop of `cc2d run` and
 *   the dashboard say "waiting for a GPU worker" within 60 s; there is no CPU fallback.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineProgress, PipelineResult } from '../../contracts/types';
import { follow } from '../../cli/run-follow';
import { ProgressView } from '../../cli/progress-view';
import { PROJECT_ROOT } from '../../infra/config/stack';
import { renderRow } from '../../infra/dashboard/page';
import { createTemporalRunSource } from '../../infra/dashboard/sources';
import { runPrefix } from '../../infra/storage/keys';
import { createHarness, type PipelineHarness } from './support/harness';

const execFileP = promisify(execFile);
const CLI = path.join(PROJECT_ROOT, 'bin', 'cc2d.mjs');
const h = await createHarness('shard-gpu-wait');

const FAILING_SHARD = 1;
const hookCalls: Array<{ shardIndex: number; attempt: number }> = [];

/** Records the notes `cc2d run` would print beside its progress bar. */
class NoteView extends ProgressView {
  readonly notes: string[] = [];
  constructor() {
    super(false);
  }
  override update(_p: PipelineProgress, note?: string): void {
    if (note) this.notes.push(note);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe.skipIf(!h)('fan-out and queue faults on the real stack', () => {
  const H = h as PipelineHarness;

  beforeAll(async () => {
    H.deps.beforeShardPublish = (shard) => {
      hookCalls.push(shard);
      if (shard.shardIndex === FAILING_SHARD && shard.attempt === 1) throw new Error(`injected: pseudo-label shard ${shard.shardIndex} ran out of memory`);
    };
    await H.workers(['workflows', 'cpu', 'gpu']);
  }, 120_000);

  afterAll(async () => {
    await H?.cleanup();
  }, 120_000);

  it('one failing pseudo-label shard: only it retries, siblings run once, the label set is complete, nothing partial stored', async () => {
    const handle = await H.start(H.input({ pseudoLabelShards: 3 }), H.runId('shard-fault'));
    const r = (await handle.result()) as PipelineResult;
    expect(r.status).toBe('completed');

    // History: shards are scheduled in index order; the failing one completed on attempt 2, the others on attempt 1.
    const events = (await handle.fetchHistory()).events!;
    const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'generatePseudoLabels');
    expect(scheduled).toHaveLength(3);
    const started = scheduled.map((s) => events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(s.eventId))!.activityTaskStartedEventAttributes!);
    expect(started.map((s) => s.attempt)).toEqual([1, 2, 1]);
    expect(started[FAILING_SHARD]!.lastFailure?.message).toMatch(/injected: pseudo-label shard 1 ran out of memory/);
    expect(hookCalls.filter((c) => c.shardIndex === FAILING_SHARD).map((c) => c.attempt)).toEqual([1, 2]);
    expect(hookCalls.filter((c) => c.shardIndex !== FAILING_SHARD).map((c) => c.attempt)).toEqual([1, 1]);

    // Complete: one label per training image. Nothing partial: the stored shard files are exactly the three results.
    const ids: string[] = [];
    for (const ref of r.artifacts.pseudoLabels) {
      const file = JSON.parse(new TextDecoder().decode(await H.deps.store.get(ref.key, ref.sha256))) as { labels: Record<string, unknown> };
      ids.push(...Object.keys(file.labels));
    }
    expect(ids.sort()).toEqual([...H.dataset.train].sort());
    const stored = (await H.deps.store.list(`${runPrefix(r.runId)}/pseudo-labels/`)).map((o) => o.key).sort();
    expect(stored).toEqual(r.artifacts.pseudoLabels.map((ref) => ref.key).sort());
  }, 300_000);

  it('a GPU queue with no poller: status, run and the dashboard say "waiting for a GPU worker" within 60 s', async () => {
    const gpuQueue = `${H.queues.gpu}-nopoller`;
    const handle = await H.start(H.input({ taskQueues: { gpu: gpuQueue } }), H.runId('no-gpu'));
    const t0 = Date.now();
    const view = new NoteView();
    const following = follow(handle, view, H.client, undefined, gpuQueue).catch(() => undefined);
    const source = createTemporalRunSource(H.client, { site: H.site });
    const seen: Record<'status' | 'run' | 'dashboard', number | undefined> = { status: undefined, run: undefined, dashboard: undefined };
    try {
      while (Object.values(seen).some((v) => v === undefined) && Date.now() - t0 < 60_000) {
        if (seen.run === undefined && view.notes.some((n) => n.startsWith('waiting for a GPU worker'))) seen.run = Date.now() - t0;
        if (seen.dashboard === undefined) {
          const row = (await source.listRuns(20)).find((x) => x.runId === handle.workflowId);
          if (row?.waitingFor === `a GPU worker on ${gpuQueue}`) {
            expect(renderRow(row)).toContain(`waiting for a GPU worker on ${gpuQueue}`);
            seen.dashboard = Date.now() - t0;
          }
        }
        if (seen.status === undefined) {
          const { stdout } = await execFileP(process.execPath, [CLI, 'status', handle.workflowId], { cwd: PROJECT_ROOT, env: process.env });
          if (stdout.includes(`waiting for a GPU worker on ${gpuQueue}`)) seen.status = Date.now() - t0;
        }
        await sleep(1000);
      }
      console.log(`"waiting for a GPU worker" seen after (ms): ${JSON.stringify(seen)}`);
      expect(seen.status).toBeLessThan(60_000);
      expect(seen.run).toBeLessThan(60_000);
      expect(seen.dashboard).toBeLessThan(60_000);
      // No CPU fallback: the SSL task still waits on its GPU queue.
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      expect(pending.map((a) => a.activityType?.name)).toEqual(['trainSelfSupervised']);
      expect(pending[0]!.attempt ?? 1).toBe(1);
    } finally {
      await handle.cancel();
      await following;
    }
    expect((await handle.describe()).status.name).toBe('CANCELLED');
  }, 180_000);
});
