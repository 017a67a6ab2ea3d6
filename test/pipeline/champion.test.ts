/**
 * The promotion gate in the pipeline on the REAL Temporal dev server and REAL S3 (smoke profile,
 * synthetic site datasets): two identical runs finishing together race for the site's champion
 * and exactly one wins (the other is kept: an equal MRE does not beat the champion); a run
 * without metrics is skipped; every decision is in the result, promotion.json, the Cc2dPromotion
 * search attribute and `runs list`; rollback restores the previous champion. A gated run's history
 * and the committed fixture history from before the gate replay without nondeterminism.
 */
import { readFile } from 'node:fs/promises';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromotionDocumentSchema } from '../../contracts/documents';
import type { PipelineResult } from '../../contracts/types';
import { listRuns } from '../../cli/commands/runs';
import { searchAttributesOf } from '../../cli/pipeline-client';
import { createTemporalRunSource } from '../../infra/dashboard/sources';
import { championRunId, promoteManually, promotionKey, readChampion, rollbackChampion } from '../../infra/models/champion';
import { readJson } from '../../infra/storage/read-json';
import { createHarness, type PipelineHarness } from './support/harness';
import { publishSyntheticSite } from './support/synthetic-site';

const h = await createHarness('champion', { dataset: { train: 1, test1: 1 } });

describe.skipIf(!h)('champion per site through the pipeline', () => {
  const H = h as PipelineHarness;
  beforeAll(async () => {
    await H.workers(['workflows', 'gpu', 'cpu']);
  });
  afterAll(() => H.cleanup());

  it('two runs racing: exactly one becomes champion; the decisions are recorded; rollback restores the previous champion', async () => {
    const site = await publishSyntheticSite(H.deps.store, { landmarkNames: ['Apex'], unlabelled: 4, labelledEval: 2, spacingMm: 0.2, sizes: [64] });
    const input = H.input({ dataset: { version: site.datasetVersion }, templateId: site.templateId });
    // Same input and seed: identical metrics, so whichever gate decides second sees an equal run.
    const handles = await Promise.all([H.start(input, H.runId('race-a')), H.start(input, H.runId('race-b'))]);
    const results: PipelineResult[] = await Promise.all(handles.map((x) => x.result()));
    expect(results[0]!.mreMm).toBe(results[1]!.mreMm);
    const outcomes = results.map((r) => r.promotion?.outcome).sort();
    expect(outcomes).toEqual(['kept', 'promoted']);
    const winner = results.find((r) => r.promotion!.outcome === 'promoted')!;
    const loser = results.find((r) => r.promotion!.outcome === 'kept')!;
    expect(winner.promotion!.site).toBe(H.site);
    expect(loser.promotion!.reason).toMatch(new RegExp(`does not beat champion ${winner.runId} on the same 2 evaluation image\\(s\\), protocol A`));
    expect(await championRunId(H.deps.store, H.site)).toBe(winner.runId);

    for (const [i, r] of results.entries()) {
      const doc = await readJson(H.deps.store, promotionKey(r.runId), PromotionDocumentSchema);
      expect(doc).toMatchObject({ runId: r.runId, outcome: r.promotion!.outcome, reason: r.promotion!.reason });
      expect(searchAttributesOf((await handles[i]!.describe()) as never).promotion).toBe(r.promotion!.outcome);
    }
    // Visibility is eventually consistent.
    let row;
    for (let i = 0; i < 40 && !row?.promotion; i++, await new Promise((r) => setTimeout(r, 500))) {
      row = (await listRuns({ site: H.site })).find((x) => x.runId === loser.runId);
    }
    expect(row).toMatchObject({ promotion: 'kept', promotionReason: loser.promotion!.reason });
    // The dashboard's runs (/api/runs) carry the same decision.
    const dashboardRows = await createTemporalRunSource(H.client, { site: H.site }).listRuns(50);
    expect(dashboardRows.find((x) => x.runId === loser.runId)).toMatchObject({ promotion: 'kept', promotionReason: loser.promotion!.reason });
    expect(dashboardRows.find((x) => x.runId === winner.runId)).toMatchObject({ promotion: 'promoted' });

    await Worker.runReplayHistory({ workflowBundle: H.bundle }, await handles[0]!.fetchHistory(), results[0]!.runId);
    const fixture = proto.temporal.api.history.v1.History.decode(await readFile(new URL('../fixtures/histories/cc2d-pipeline-smoke.history.pb', import.meta.url)));
    await Worker.runReplayHistory({ workflowBundle: H.bundle }, fixture, 'fixture-before-the-gate');

    // By hand, then back.
    await promoteManually(H.deps.store, loser.runId);
    expect(await championRunId(H.deps.store, H.site)).toBe(loser.runId);
    expect(await rollbackChampion(H.deps.store, H.site)).toMatchObject({ from: loser.runId, to: { runId: winner.runId, by: 'rollback' } });
    expect(await championRunId(H.deps.store, H.site)).toBe(winner.runId);
    expect((await readChampion(H.deps.store, H.site))!.history).toEqual([]);
  }, 480_000);

  it('a run without metrics is never promoted automatically', async () => {
    const site = await publishSyntheticSite(H.deps.store, { landmarkNames: ['Apex'], unlabelled: 4, labelledEval: 0, spacingMm: 0.2, sizes: [64] });
    const before = await championRunId(H.deps.store, H.site);
    const result: PipelineResult = await (await H.start(H.input({ dataset: { version: site.datasetVersion }, templateId: site.templateId }))).result();
    expect(result.promotion).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/no metrics/) });
    expect(await championRunId(H.deps.store, H.site)).toBe(before);
  }, 240_000);
});
