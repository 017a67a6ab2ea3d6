/**
 * The dashboard's compare view (/compare?a=&b=, /api/compare) and site view (/sites/<site>,
 * /api/sites/<site>) against fake sources: behind the token, escaped, 400/404 for bad or
 * unpublished runs; the site view shows the champion and the MRE of the site's runs over time.
 * No stack needed.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunComparison, RunSnapshot } from '../../infra/compare';
import { startDashboard, type Dashboard } from '../../infra/dashboard/server';
import type { CompareSource, ReportSource, RunRow, RunSource, SiteSource } from '../../infra/dashboard/sources';
import { createStoreSiteSource } from '../../infra/dashboard/champion';
import { NotFoundError, type ObjectStore } from '../../infra/storage/object-store';

const TOKEN = 'test-token-views';

function get(port: number, path: string, auth = true): Promise<{ status: number; type: string; csp: string; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = auth ? { cookie: `cc2d_dashboard_${port}=${TOKEN}` } : {};
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, type: String(res.headers['content-type']), csp: String(res.headers['content-security-policy']), body: Buffer.concat(chunks).toString('utf8'),
      }));
    });
    req.on('error', reject);
    req.end();
  });
}

function snapshot(runId: string, seed: number, errors: number[][]): RunSnapshot {
  return {
    runId, datasetVersion: 'v'.repeat(64), templateId: '002', unit: 'mm', protocolB: 'cell-centre', site: 'isbi', profile: 'smoke', landmarkNames: ['Sella', '<b>Nasion</b>'],
    config: { config: { seed, site: 'isbi' }, profile: { name: 'smoke' } },
    headline: { mre: 2, set: 'test1' },
    errors: { final: [{ protocol: 'A', sets: { test1: errors.map((errorsMm, i) => ({ id: String(i), errorsMm })) } }] },
  };
}

const snapshots: Record<string, RunSnapshot> = {
  'run-a': snapshot('run-a', 2022, [[1, 3], [2, 4]]),
  'run-b': snapshot('run-b', 7, [[1, 1], [2, 2]]),
};

const rows: RunRow[] = [
  { runId: 'run-b', status: 'completed', site: 'isbi', profile: 'smoke', mreMm: 1.5, mreUnit: 'mm', startTime: '2026-11-28T10:00:00.000Z', closeTime: '2026-11-28T11:00:00.000Z' },
  { runId: 'run-a', status: 'completed', site: 'isbi', profile: 'smoke', mreMm: 2.5, mreUnit: 'mm', startTime: '2026-11-27T10:00:00.000Z', closeTime: '2026-11-27T11:00:00.000Z' },
  { runId: 'run-c', status: 'running', site: 'isbi', profile: 'cpu', startTime: '2026-11-29T10:00:00.000Z' },
  { runId: 'other-1', status: 'completed', site: 'other', mreMm: 9, startTime: '2026-11-26T10:00:00.000Z' },
];

const runs: RunSource = { listRuns: async () => rows, progress: async () => undefined };
const reports: ReportSource = { getReport: async () => undefined };
const compare: CompareSource = { snapshot: async (id) => snapshots[id] };
// run-b is champion after a rollback that demoted run-c.
const isbiChampion = {
  format: 'cc2d-champion-v1' as const, site: 'isbi', revision: 2,
  champion: { runId: 'run-b', since: '2026-12-03T10:00:00.000Z', by: 'rollback' as const, reason: 'rolled back from run-c' },
  history: [],
  rolledBack: [{ runId: 'run-c', since: '2026-12-03T09:00:00.000Z', by: 'gate' as const, reason: 'beats run-b', until: '2026-12-03T10:00:00.000Z' }],
};
const sites: SiteSource = { champion: async (site) => (site === 'isbi' ? isbiChampion : undefined) };

let dash: Dashboard;
beforeAll(async () => {
  dash = await startDashboard({ runs, reports, compare, sites, port: 0, token: TOKEN, log: () => {} });
});
afterAll(async () => {
  await dash?.close();
});

describe('dashboard compare view', () => {
  it('is behind the token', async () => {
    for (const p of ['/compare?a=run-a&b=run-b', '/api/compare?a=run-a&b=run-b', '/sites/isbi', '/api/sites/isbi']) expect((await get(dash.port, p, false)).status).toBe(401);
  });

  it('shows the config diff, metrics with deltas, per-landmark MRE and overlaid SDR curves, escaped and script-free', async () => {
    const r = await get(dash.port, '/compare?a=run-a&b=run-b');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/text\/html/);
    expect(r.csp).toContain("default-src 'none'");
    expect(r.csp).not.toContain('script-src');
    expect(r.body).toContain('config.seed');
    expect(r.body).toMatch(/<td class="mono small">2022<\/td><td class="mono small">7<\/td>/);
    expect(r.body).toContain('<td class="num better">+25.0</td>'); // SDR up: B better
    expect([...r.body.matchAll(/<th colspan="3">SDR &lt; ([\d.]+)<\/th>/g)].map((m) => m[1])).toEqual(['2', '2.5', '3', '4']);
    expect(r.body).toContain('&lt;b&gt;Nasion&lt;/b&gt;');
    expect(r.body).not.toContain('<b>Nasion</b>');
    expect(r.body).toMatch(/<svg class="chart"[^>]*aria-label="SDR vs radius, protocol A, Test1"/);
    expect(r.body).toContain('<title>A final</title>');
    expect(r.body).toContain('<title>B final</title>');
  });

  it('answers JSON at /api/compare, 404 for an unpublished run and 400 for bad ids', async () => {
    const j = await get(dash.port, '/api/compare?a=run-a&b=run-b');
    const c = JSON.parse(j.body) as RunComparison;
    expect(c.configChanges).toEqual([{ path: 'config.seed', a: 2022, b: 7 }]);
    expect(c.sets[0]!.mre).toEqual({ a: 2.5, b: 1.5, delta: -1 });
    expect((await get(dash.port, '/compare?a=run-a&b=nope')).status).toBe(404);
    expect((await get(dash.port, '/compare?a=run-a')).status).toBe(400);
    expect((await get(dash.port, '/compare?a=run-a&b=%3Cscript%3E')).status).toBe(400);
  });
});

describe('dashboard site view', () => {
  it("shows the champion, the MRE of the site's runs over time and compare links", async () => {
    const r = await get(dash.port, '/sites/isbi');
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/Champion: <span class="mono"><a href="\/runs\/run-b\/report">run-b<\/a><\/span>/);
    expect(r.body).toMatch(/<svg class="chart"[^>]*aria-label="Headline MRE \(protocol A\) of the site&#39;s completed runs"/);
    expect(r.body).toContain('champion: run-b');
    expect(r.body).toContain('href="/compare?a=run-b&amp;b=run-a">vs champion</a>');
    expect(r.body).not.toContain('other-1');
    // Since when, by what and why, and the champion a rollback demoted (page and JSON).
    expect(r.body).toContain('since 2026-12-03 10:00:00Z · rollback: rolled back from run-c');
    expect(r.body).toMatch(/Rolled back:.*run-c<\/span> since 2026-12-03 09:00:00Z · gate: beats run-b · until 2026-12-03 10:00:00Z/s);
    const j = JSON.parse((await get(dash.port, '/api/sites/isbi')).body) as { champion: string; championEntry: { by: string }; rolledBack: Array<{ runId: string }>; runs: RunRow[] };
    expect(j.champion).toBe('run-b');
    expect(j.championEntry.by).toBe('rollback');
    expect(j.rolledBack.map((e) => e.runId)).toEqual(['run-c']);
    expect(j.runs.map((x) => x.runId)).toEqual(['run-b', 'run-a', 'run-c']);
    const none = await get(dash.port, '/sites/other');
    expect(none.body).toContain('No champion for this site yet.');
    expect((await get(dash.port, '/sites/Bad%20Site')).status).toBe(400);
  });

  it('the runs page links each site to its view', async () => {
    expect((await get(dash.port, '/')).body).toContain('<a href="/sites/isbi">isbi</a>');
  });

  it("reads the site's champion through the champion file's reader; no file or a bad site name is no champion", async () => {
    const entry = { runId: 'run-9', since: '2026-11-30T00:00:00Z', by: 'gate', reason: 'first champion' };
    const files: Record<string, string> = { 'sites/a/champion.json': JSON.stringify({ format: 'cc2d-champion-v1', site: 'a', revision: 0, champion: entry, history: [] }) };
    const store = { get: async (key: string) => { if (!(key in files)) throw new NotFoundError(key); return new TextEncoder().encode(files[key]); } } as unknown as ObjectStore;
    const source = createStoreSiteSource(store);
    expect((await source.champion('a'))?.champion).toMatchObject(entry);
    expect(await source.champion('d')).toBeUndefined();
    expect(await source.champion('../x')).toBeUndefined();
  });
});
