// The champion of a site on the REAL S3 server: compare-and-swap races, the gate's decisions and
// rollback. Runs are published as the report stage publishes them (lineage manifest over stored
// metrics), without training.
import { afterAll, describe, expect, it } from 'vitest';
import { buildLineageManifest, publishExisting } from '../../activities/publish-run';
import { METRICS_FORMAT } from '../../contracts/documents';
import {
  championKey, championRunId, markChampions, promoteIfBetter, promoteManually, readChampion, rollbackChampion, swapChampion,
} from '../../infra/models/champion';
import type { RunRow } from '../../cli/commands/runs';
import { sha256Hex } from '../../infra/storage/hash';
import { runKeys, runPrefix } from '../../infra/storage/keys';
import { readRunManifest } from '../../infra/storage/manifest';
import { PreconditionFailedError } from '../../infra/storage/object-store';
import { SKIPPED, requireStack } from '../support/stack';

const stack = await requireStack('champion');
afterAll(async () => stack?.cleanup());

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe.skipIf(!stack)('champion per site on the real S3 server', () => {
  const { store } = stack ?? SKIPPED;

  /** Publishes a run of `site` whose protocol-A errors per image are `errors` (none: a run without metrics). */
  async function publishRun(runId: string, site: string, errors?: Record<string, number[]>): Promise<void> {
    const images = Object.entries(errors ?? {}).map(([id, errorsMm]) => ({ id, errorsMm }));
    const all = images.flatMap((i) => i.errorsMm);
    const metrics = {
      format: METRICS_FORMAT, gridSize: 64, pixelSpacingMm: 0.1, unit: 'mm', templateId: 't', protocols: {},
      errors: errors ? [{ protocol: 'A', sets: { eval: images } }] : [],
      ...(errors ? {} : { noMetrics: 'no metrics: no labelled evaluation images' }),
    };
    const bytes = utf8(JSON.stringify(metrics));
    const ref = await store.put(runKeys.metrics(runId, sha256Hex(bytes)), bytes);
    const mre = all.reduce((s, e) => s + e, 0) / Math.max(1, all.length);
    const manifest = buildLineageManifest({
      runId, prefix: runPrefix(runId), artifacts: { metrics: ref },
      lineage: { runId, site, datasetVersion: 'v1', ...(errors ? { mreMm: mre, unit: 'mm' } : { noMetrics: 'no metrics' }) },
    });
    await publishExisting(store, runPrefix(runId), manifest);
  }

  it('the store swaps by ETag: a stale ETag loses with PreconditionFailedError', async () => {
    await store.put('cas/doc.json', utf8('v1'));
    const v1 = (await store.getVersioned('cas/doc.json'))!;
    await store.put('cas/doc.json', utf8('v2'), { ifMatch: v1.etag });
    await expect(store.put('cas/doc.json', utf8('v3'), { ifMatch: v1.etag })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(new TextDecoder().decode((await store.getVersioned('cas/doc.json'))!.body)).toBe('v2');
    expect(await store.getVersioned('cas/missing.json')).toBeUndefined();
  });

  it('two runs racing for a site without champion: exactly one wins, the other is compared with it', async () => {
    const site = 'race';
    await publishRun('race-a', site, { x: [2, 2], y: [2, 2] });
    await publishRun('race-b', site, { x: [3, 3], y: [3, 3] });
    // Both read "no champion" before either writes: only one conditional create can succeed.
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((r) => (release = r));
    const racer = (runId: string) =>
      swapChampion(store, site, async (current) => {
        if (current === undefined && ++arrived === 2) release();
        if (current === undefined) await bothRead;
        return current ? undefined : {
          format: 'cc2d-champion-v1', site, revision: 0, history: [],
          champion: { runId, since: new Date().toISOString(), by: 'gate', reason: 'race' },
        } as const;
      });
    const results = await Promise.all([racer('race-a'), racer('race-b')]);
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    const winner = results.find((r) => r.changed)!.document!.champion.runId;
    expect(await championRunId(store, site)).toBe(winner);

    // Through the gate: both finish together; whichever order the swaps land in, the better run
    // (race-a) ends as champion and race-b is kept out with the reason.
    const site2 = 'race2';
    await publishRun('race2-a', site2, { x: [2, 2], y: [2, 2] });
    await publishRun('race2-b', site2, { x: [3, 3], y: [3, 3] });
    const [a, b] = await Promise.all([promoteIfBetter(store, { runId: 'race2-a' }), promoteIfBetter(store, { runId: 'race2-b' })]);
    expect(a.outcome).toBe('promoted');
    expect(await championRunId(store, site2)).toBe('race2-a');
    const doc = (await readChampion(store, site2))!;
    expect(doc.history.map((h) => h.runId)).toEqual(b.outcome === 'promoted' ? ['race2-b'] : []);
    if (b.outcome === 'kept') expect(b.reason).toMatch(/does not beat champion race2-a/);
  });

  it('keeps a worse run out with the reason, skips a run without metrics, honours minMre, and rolls back', async () => {
    const site = 'gate';
    await publishRun('gate-1', site, { x: [5], y: [5] });
    await publishRun('gate-2', site, { x: [4], y: [4] });
    await publishRun('gate-3', site, { x: [6], y: [6] });
    await publishRun('gate-none', site);

    expect(await promoteIfBetter(store, { runId: 'gate-1', minMre: 4.5 })).toMatchObject({ outcome: 'kept', reason: expect.stringMatching(/minimum/) });
    expect(await championRunId(store, site)).toBeUndefined();
    expect(await promoteIfBetter(store, { runId: 'gate-1', minMre: 5 })).toMatchObject({ outcome: 'promoted', reason: expect.stringMatching(/first champion/) });
    expect(await promoteIfBetter(store, { runId: 'gate-2' })).toMatchObject({ outcome: 'promoted', championBefore: 'gate-1', candidateMre: 4, championMre: 5, comparedImages: 2 });
    const worse = await promoteIfBetter(store, { runId: 'gate-3' });
    expect(worse).toMatchObject({ outcome: 'kept', championBefore: 'gate-2' });
    expect(worse.reason).toMatch(/does not beat champion gate-2 on the same 2 evaluation image\(s\), protocol A: MRE 6\.000 mm ≥ 4\.000 mm/);
    expect(await promoteIfBetter(store, { runId: 'gate-none' })).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/no metrics/) });
    // A retried gate on the champion itself is idempotent.
    expect(await promoteIfBetter(store, { runId: 'gate-2' })).toMatchObject({ outcome: 'promoted', reason: 'the run already is the champion' });
    expect((await readChampion(store, site))!.revision).toBe(1);

    const back = await rollbackChampion(store, site, new Date('2026-12-03T12:00:00Z'));
    expect(back).toMatchObject({ from: 'gate-2', to: { runId: 'gate-1', by: 'rollback' } });
    expect(await championRunId(store, site)).toBe('gate-1');
    await expect(rollbackChampion(store, site)).rejects.toThrow(/no predecessor/);
    // The demoted champion is still on record: that it served, from when until when.
    const afterRollback = (await readChampion(store, site))!;
    expect(afterRollback.history).toEqual([]);
    expect(afterRollback.rolledBack).toEqual([expect.objectContaining({ runId: 'gate-2', by: 'gate', mre: 4, until: '2026-12-03T12:00:00.000Z' })]);

    // By hand, bypassing the gate (a worse run); the gate then cannot compare with a run without metrics.
    await promoteManually(store, 'gate-none');
    expect(await championRunId(store, site)).toBe('gate-none');
    // A new champion keeps the rolled-back record; `runs list` marks the champion promoted by hand.
    expect((await readChampion(store, site))!.rolledBack?.map((e) => e.runId)).toEqual(['gate-2']);
    const row = (runId: string, rowSite: string | null): RunRow => ({
      runId, site: rowSite, status: 'completed', stage: null, profile: null, datasetVersion: null, mreMm: null, mreUnit: null,
      progress: null, promotion: null, promotionReason: null, champion: null, startTime: '', closeTime: null,
    });
    // A resumed run is listed twice (newest first): one mark. A row without a site: by the run id.
    const rows = [row('gate-3', null), row('gate-none', null), row('gate-2', site), row('gate-none', site), row('gate-1', site), row('gate-none', 'no-such-site')];
    expect(await markChampions(rows, store)).toEqual([]);
    expect(rows.map((r) => r.champion)).toEqual([null, true, false, false, false, false]);
    // An unreadable champion document: unknown (null), with a warning naming the site, not a failed list.
    await store.put(championKey('gate-broken'), utf8('{"format":'));
    const broken = [row('gate-1', 'gate-broken')];
    expect(await markChampions(broken, store)).toEqual([expect.stringMatching(/^site gate-broken: its champion cannot be read/)]);
    expect(broken[0]!.champion).toBeNull();
    expect(await promoteIfBetter(store, { runId: 'gate-2' })).toMatchObject({ outcome: 'kept', reason: expect.stringMatching(/cannot be compared with: it has no metrics/) });
    await expect(promoteManually(store, 'never-published')).rejects.toThrow(/not published/);
    // Keys fold ':' into '_': the folder of run "gate:sched" is not run "gate_sched"'s.
    await publishRun('gate:sched', site, { x: [1], y: [1] });
    await expect(promoteManually(store, 'gate_sched')).rejects.toThrow(/run gate_sched is not published \(runs\/gate_sched\/ holds run gate:sched, not gate_sched\)/);
    expect(await championRunId(store, site)).toBe('gate-none');
    // Every reader of a run's manifest (predict --run, compare, eval, report) checks the same way.
    await expect(readRunManifest(store, 'gate_sched')).rejects.toThrow(/run gate_sched is not published \(runs\/gate_sched\/ holds run gate:sched/);
    expect((await readRunManifest(store, 'gate:sched')).meta).toMatchObject({ runId: 'gate:sched' });
    await promoteManually(store, 'gate:sched');
    expect(await championRunId(store, site)).toBe('gate:sched');
  });

  it('the report stage decides before publishing: a candidate given by value is crowned, and a racing gate waits for its manifest', async () => {
    const site = 'early';
    const errors = { x: [2, 2], y: [2, 2] };
    const scored = { runId: 'early-a', unit: 'mm' as const, errorsById: new Map(Object.entries(errors)) };
    const a = await promoteIfBetter(store, { runId: 'early-a', candidate: { runId: 'early-a', site, mre: 2, unit: 'mm', scored } });
    expect(a).toMatchObject({ outcome: 'promoted', reason: expect.stringMatching(/first champion/) });
    expect(await championRunId(store, site)).toBe('early-a');
    // early-a is champion but not yet published: early-b's gate waits, then compares with it.
    await publishRun('early-b', site, { x: [3, 3], y: [3, 3] });
    const b = promoteIfBetter(store, { runId: 'early-b' });
    await new Promise((r) => setTimeout(r, 1500));
    await publishRun('early-a', site, errors);
    expect(await b).toMatchObject({ outcome: 'kept', championBefore: 'early-a', candidateMre: 3, championMre: 2, comparedImages: 2 });
  });
});
