/**
 * Site schedules on the REAL Temporal dev server and S3 (docs/reliability.md#f12), smoke profile:
 * - a trigger while the site's run is active is skipped (overlap SKIP, also for `cc2d schedule
 *   trigger`);
 * - on the paused schedule, a backfill of 3 slots starts exactly 3 runs, one after another;
 * - every run carries TemporalScheduledById, and no two runs of the site ever overlap in time.
 */
import type { ScheduleHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineResult } from '../../contracts/types';
import { UserError } from '../../infra/errors';
import { backfillSiteSchedule, createSiteSchedule, triggerSiteSchedule } from '../../cli/commands/schedule';
import { scheduleIdOf } from '../../infra/config/names';
import { retireSite } from '../../cli/commands/site';
import { createHarness, type PipelineHarness } from './support/harness';

const h = await createHarness('schedule');
const DAY_MS = 86_400_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

describe.skipIf(!h)('site schedule: overlap and backfill', () => {
  const H = h as PipelineHarness;
  let schedule: ScheduleHandle;

  beforeAll(async () => {
    await H.workers(['workflows', 'cpu', 'gpu']);
    schedule = await createSiteSchedule(H.client, H.input({ pseudoLabelShards: 1 }), { every: '24h', paused: true, workflowTaskQueue: H.queues.workflows });
  }, 120_000);

  afterAll(async () => {
    await schedule?.delete().catch(() => undefined);
    await H?.cleanup();
  }, 120_000);

  it('a trigger while the run is active is skipped; a backfill of 3 slots runs 3 more, one at a time, each with TemporalScheduledById', async () => {
    const described = await schedule.describe();
    expect(described.policies.overlap).toBe('SKIP');
    expect(described.state.paused).toBe(true);
    // A site without a schedule: one clear user error (exit 2), not the SDK's not-found trace.
    const none = `${H.site}-none`;
    await expect(triggerSiteSchedule(H.client, none)).rejects.toThrow(new RegExp(`site ${none} has no schedule .*cc2d schedule create --site ${none}`));
    await expect(backfillSiteSchedule(H.client, none, new Date(0), new Date(1))).rejects.toThrow(UserError);
    // A site with a schedule cannot be retired (the schedule would go on starting its runs).
    await expect(retireSite(H.client, H.deps.store, H.site)).rejects.toThrow(new RegExp(`site ${H.site} has a schedule .*cc2d schedule delete ${H.site}`));

    expect(await triggerSiteSchedule(H.client, H.site)).toEqual({ runningBefore: [] });
    const first = await eventually('the triggered run', async () => (await schedule.describe()).info.runningActions[0]?.workflow.workflowId, 30_000);
    // The CLI says the second trigger is skipped, and for which run.
    expect(await triggerSiteSchedule(H.client, H.site)).toEqual({ runningBefore: [first] });
    const afterSecond = await eventually('the skipped trigger', async () => {
      const d = await schedule.describe();
      return d.info.numActionsSkippedOverlap >= 1 ? d : undefined;
    }, 30_000);
    expect(afterSecond.info.runningActions.map((a) => a.workflow.workflowId)).toEqual([first]);
    expect(afterSecond.info.numActionsTaken).toBe(1);
    expect(((await H.client.workflow.getHandle(first).result()) as PipelineResult).status).toBe('completed');

    // Three daily slots: the day boundaries D-2, D-1 and D inside (D-3d+1h, D+1h].
    const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
    await backfillSiteSchedule(H.client, H.site, new Date(today - 3 * DAY_MS + 3_600_000), new Date(today + 3_600_000));
    const done = await eventually('the backfilled runs', async () => {
      const d = await schedule.describe();
      return d.info.numActionsTaken >= 4 && d.info.runningActions.length === 0 ? d : undefined;
    }, 600_000);
    expect(done.info.numActionsTaken).toBe(4);
    expect((await schedule.describe()).state.paused).toBe(true);

    const scheduleId = scheduleIdOf(H.site);
    const runs = await eventually('the runs in visibility', async () => {
      const rows: Array<{ id: string; status: string; start: number; close: number; scheduledBy: unknown }> = [];
      for await (const wf of H.client.workflow.list({ query: `TemporalScheduledById = '${scheduleId}'` })) {
        rows.push({ id: wf.workflowId, status: wf.status.name, start: wf.startTime.getTime(), close: wf.closeTime?.getTime() ?? NaN, scheduledBy: wf.typedSearchAttributes.get({ name: 'TemporalScheduledById', type: 'KEYWORD' }) });
      }
      return rows.length === 4 && rows.every((r) => r.status === 'COMPLETED') ? rows : undefined;
    }, 60_000);
    for (const r of runs) {
      expect(r.scheduledBy).toBe(scheduleId);
    }
    // Never two trainings of the site at once.
    const sorted = [...runs].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.close);
    console.log(`scheduled runs: ${sorted.map((r) => `${r.id} ${((r.close - r.start) / 1000).toFixed(1)} s`).join('; ')}`);
  }, 900_000);
});
