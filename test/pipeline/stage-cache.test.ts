/**
 * The cross-run stage cache on the REAL Temporal dev server and REAL S3 (smoke profile, synthetic
 * ISBI-layout data): a run whose only change is an unread field (TPL lr) reuses SSL and the
 * pseudo-labels of the earlier published run and trains TPL only; an identical run reuses all
 * three; a new seed, an SSL field or other data miss; `cache: false` (`--no-cache`) recomputes
 * (byte-identical); a TPL round-trip limit (its key also reads the SSL weights) is reused like any
 * TPL; more SSL steps continue from the shorter run's last checkpoint, to the same
 * weights as training from step 0. The lineage manifest and report record where each reused artifact came from,
 * and cleaning up the source run never deletes what the reusing run references.
 * The stage keys themselves (code version, each field) are unit-tested in test/infra/stage-cache.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeUnpublishedRunObjects } from '../../activities/cleanup-run';
import type { PipelineResult } from '../../contracts/types';
import type { RunConfigInput } from '../../infra/config/run-config';
import { runPrefix } from '../../infra/storage/keys';
import { readManifest } from '../../infra/storage/manifest';
import { createHarness, type PipelineHarness } from './support/harness';
import { makeSyntheticIsbi, type SyntheticDataset } from './support/synthetic-isbi';

const h = await createHarness('stage-cache');
const FIXTURE_HISTORY = fileURLToPath(new URL('../fixtures/histories/cc2d-pipeline-smoke.history.pb', import.meta.url));

describe.skipIf(!h)('cross-run stage cache', () => {
  const H = h as PipelineHarness;
  let other: SyntheticDataset | undefined;
  let first: PipelineResult;
  const wallS: Record<string, number> = {};
  const stageS: Record<string, Record<string, number>> = {};
  const histories: Record<string, Awaited<ReturnType<Awaited<ReturnType<PipelineHarness['start']>>['fetchHistory']>>> = {};

  /** Runs to completion; records the wall time, the report's stage timings and the history. */
  async function run(tag: string, overrides: Partial<RunConfigInput> = {}): Promise<PipelineResult> {
    const t0 = Date.now();
    const handle = await H.start(H.input({ cache: true, ...overrides }), H.runId(tag));
    const result = await handle.result();
    wallS[tag] = (Date.now() - t0) / 1000;
    histories[tag] = await handle.fetchHistory();
    const report = JSON.parse(new TextDecoder().decode(await H.deps.store.get(result.reportKey))) as { lineage: { timings: Array<{ stage: string; startedAt: string; endedAt: string }> } };
    stageS[tag] = Object.fromEntries(report.lineage.timings.map((t) => [t.stage, (Date.parse(t.endedAt) - Date.parse(t.startedAt)) / 1000]));
    return result;
  }

  beforeAll(async () => {
    await H.workers(['workflows', 'gpu', 'cpu']);
    first = await run('first');
  }, 600_000);
  afterAll(async () => {
    console.log(`stage cache, smoke profile, wall time per run (s): ${JSON.stringify(wallS)}`);
    console.log(`stage cache, smoke profile, stage times (s): ${JSON.stringify(stageS)}`);
    await other?.cleanup();
    await H.cleanup();
  });

  it('a first run computes every stage', () => {
    expect(first.reusedFrom).toBeUndefined();
    expect(first.artifacts.sslWeights.key.startsWith(`${runPrefix(first.runId)}/`)).toBe(true);
  });

  it('a new TPL lr (not read by SSL or matching) reuses SSL and the pseudo-labels and trains TPL only', async () => {
    const r = await run('tpl-lr', { overrides: { tpl: { lr: 1e-3 } } });
    expect(r.reusedFrom).toEqual({ ssl: first.runId, 'pseudo-labels': first.runId });
    expect(r.artifacts.sslWeights).toEqual(first.artifacts.sslWeights);
    expect(r.artifacts.pseudoLabels).toEqual(first.artifacts.pseudoLabels);
    expect(r.artifacts.tplWeights.key.startsWith(`${runPrefix(r.runId)}/`)).toBe(true);
    expect(r.artifacts.tplWeights.sha256).not.toBe(first.artifacts.tplWeights.sha256);

    // Lineage: the reused artifacts are listed with their source run, not as files of this run.
    const manifest = await readManifest(H.deps.store, runPrefix(r.runId));
    expect(manifest.meta.reusedFrom).toEqual({ ssl: first.runId, 'pseudo-labels': first.runId });
    const reused = manifest.meta.reusedArtifacts as Record<string, { runId: string; key: string }>;
    expect(reused.sslWeights).toMatchObject({ runId: first.runId, key: first.artifacts.sslWeights.key });
    expect(Object.keys(reused).filter((n) => n.startsWith('pseudoLabels'))).toHaveLength(first.artifacts.pseudoLabels.length);
    expect(manifest.files.some((f) => f.key.startsWith('tpl/weights-'))).toBe(true);
    expect(manifest.files.some((f) => f.key.startsWith('ssl/'))).toBe(false);
    const html = new TextDecoder().decode(await H.deps.store.get(r.artifacts.reportHtml!.key));
    expect(html).toContain(`ssl from ${first.runId}`);

    // Cleaning up the (published) source run deletes nothing the reusing run references.
    expect(await removeUnpublishedRunObjects(H.deps.store, first.runId)).toEqual({ deleted: 0, published: true });
    expect(await H.deps.store.exists(first.artifacts.sslWeights.key)).toBe(true);
  }, 600_000);

  it('an identical run reuses all three stages', async () => {
    const r = await run('identical');
    expect(r.reusedFrom).toEqual({ ssl: first.runId, 'pseudo-labels': first.runId, tpl: first.runId });
    expect(r.artifacts.tplWeights).toEqual(first.artifacts.tplWeights);
    expect(r.mreMm).toBe(first.mreMm);
  }, 600_000);

  it('a TPL round-trip limit reuses SSL and the pseudo-labels, and a second run with it reuses that TPL and its left-out count', async () => {
    // tpl.maxRoundTrip makes the TPL key read the SSL weights: the workflow must pass them to the lookup.
    const limited = { overrides: { tpl: { maxRoundTrip: 12 } } };
    const a = await run('tpl-round-trip', limited);
    expect(a.reusedFrom).toEqual({ ssl: first.runId, 'pseudo-labels': first.runId });
    expect(a.artifacts.tplWeights.sha256).not.toBe(first.artifacts.tplWeights.sha256);
    const b = await run('tpl-round-trip-again', limited);
    expect(b.reusedFrom).toEqual({ ssl: first.runId, 'pseudo-labels': first.runId, tpl: a.runId });
    expect(b.artifacts.tplWeights).toEqual(a.artifacts.tplWeights);
    const leftOut = async (r: PipelineResult) =>
      (JSON.parse(new TextDecoder().decode(await H.deps.store.get(r.reportKey))) as { stages: { tpl: { leftOutLabels?: { count: number } } } }).stages.tpl.leftOutLabels;
    expect((await leftOut(a))?.count).toBeGreaterThan(0);
    expect(await leftOut(b)).toEqual(await leftOut(a));
  }, 600_000);

  it('cache: false (--no-cache) recomputes every stage, to the same bytes', async () => {
    const r = await run('no-cache', { cache: false });
    expect(r.reusedFrom).toBeUndefined();
    expect(r.artifacts.sslWeights.key.startsWith(`${runPrefix(r.runId)}/`)).toBe(true);
    expect(r.artifacts.sslWeights.sha256).toBe(first.artifacts.sslWeights.sha256);
    expect(r.artifacts.tplWeights.sha256).toBe(first.artifacts.tplWeights.sha256);
  }, 600_000);

  it('more SSL steps continue from the newest checkpoint of a shorter run, to the same weights as from step 0', async () => {
    type Report = { stages: { ssl: { resumedFromStep: number; steps: number; sslContinuedFrom?: unknown } }; artifacts: { sslLossLog: { key: string } } };
    const reportOf = async (r: PipelineResult) => JSON.parse(new TextDecoder().decode(await H.deps.store.get(r.reportKey))) as Report;
    // smoke: 12 SSL steps, a checkpoint every 4, so the first run's last checkpoint is at step 8.
    const longer = await run('ssl-16', { overrides: { ssl: { steps: 16 } } });
    expect(longer.reusedFrom).toBeUndefined();
    expect(longer.sslContinuedFrom).toEqual({ runId: first.runId, step: 8 });
    const report = await reportOf(longer);
    expect(report.stages.ssl).toMatchObject({ steps: 16, resumedFromStep: 8, sslContinuedFrom: { runId: first.runId, step: 8 } });
    // The loss curve starts at step 1: the earlier run's part comes with its checkpoint.
    const curve = JSON.parse(new TextDecoder().decode(await H.deps.store.get(report.artifacts.sslLossLog.key))) as { points: Array<{ step: number }> };
    expect(curve.points.map((p) => p.step)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect((await readManifest(H.deps.store, runPrefix(longer.runId))).meta.sslContinuedFrom).toEqual({ runId: first.runId, step: 8 });
    const html = new TextDecoder().decode(await H.deps.store.get(longer.artifacts.reportHtml!.key));
    expect(html).toContain(`${first.runId} at step 8`);

    const fresh = await run('ssl-16-fresh', { cache: false, overrides: { ssl: { steps: 16 } } });
    expect(fresh.sslContinuedFrom).toBeUndefined();
    expect((await reportOf(fresh)).stages.ssl.resumedFromStep).toBe(0);
    expect(longer.artifacts.sslWeights.sha256).toBe(fresh.artifacts.sslWeights.sha256);
    expect(longer.artifacts.tplWeights.sha256).toBe(fresh.artifacts.tplWeights.sha256);

    // The continued run's own checkpoint (step 12) is now the newest of the shorter runs.
    const longest = await run('ssl-20', { overrides: { ssl: { steps: 20 } } });
    expect(longest.sslContinuedFrom).toEqual({ runId: longer.runId, step: 12 });
  }, 900_000);

  it('a new seed, a changed SSL field or other data is a miss for every stage', async () => {
    const seed = await run('seed', { seed: 7 });
    expect(seed.reusedFrom).toBeUndefined();
    expect(seed.artifacts.sslWeights.sha256).not.toBe(first.artifacts.sslWeights.sha256);

    const sslField = await run('ssl-lr', { overrides: { ssl: { lr: 5e-4 } } });
    expect(sslField.reusedFrom).toBeUndefined();

    other = await makeSyntheticIsbi({ seed: 1 });
    const data = await run('data', { dataset: { dir: other.root } });
    expect(data.datasetVersion).not.toBe(first.datasetVersion);
    expect(data.reusedFrom).toBeUndefined();
  }, 900_000);

  it('replays its histories (with cache hits) and the fixture history recorded before the stage cache', async () => {
    for (const [tag, history] of Object.entries(histories)) await Worker.runReplayHistory({ workflowBundle: H.bundle }, history, tag);
    const fixture = proto.temporal.api.history.v1.History.decode(await readFile(FIXTURE_HISTORY));
    await Worker.runReplayHistory({ workflowBundle: H.bundle }, fixture, 'fixture');
  }, 300_000);
});
