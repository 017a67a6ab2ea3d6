/**
 * The dashboard server against fake run/report sources: token and cookie auth, 401 without
 * it, Host check, read-only, escaping, report served with a no-network CSP. No stack needed.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../../infra/dashboard/server';
import { runsQuery, type ReportSource, type RunRow, type RunSource } from '../../infra/dashboard/sources';
import type { PipelineProgress } from '../../contracts/types';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(port: number, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const rows: RunRow[] = [
  {
    runId: 'cc2d-default-smoke-1',
    status: 'completed',
    stage: 'done',
    progress: 1,
    site: 'default',
    profile: 'smoke',
    mreMm: 12.3456,
    datasetVersion: 'isbi-abc',
    startTime: '2026-11-27T10:00:00.000Z',
  },
  {
    runId: 'cc2d-<script>alert(1)</script>',
    status: 'running',
    stage: 'ssl',
    progress: 0.2,
    site: '<img src=x onerror=alert(2)>',
    profile: 'smoke',
    startTime: '2026-11-27T11:00:00.000Z',
    live: { stage: 'ssl', step: 12, totalSteps: 40, fraction: 0.3, loss: 1.5 },
  },
];

const runs: RunSource = {
  listRuns: async () => rows,
  progress: async (id) => (id === 'cc2d-default-smoke-1' ? ({ runId: id, status: 'completed', stage: 'done', step: 0, totalSteps: 0, fraction: 1, stagesDone: [] } as PipelineProgress) : undefined),
};
const reports: ReportSource = {
  getReport: async (id) => (id === 'cc2d-default-smoke-1' ? new TextEncoder().encode('<!DOCTYPE html><title>r</title><p>report body</p>') : undefined),
};

let dash: Dashboard;
let cookie: string;

beforeAll(async () => {
  dash = await startDashboard({ runs, reports, port: 0, namespace: 'cc2d', log: () => {} });
});
afterAll(async () => {
  await dash?.close();
});

describe('dashboard server', () => {
  it('refuses non-loopback hosts', async () => {
    await expect(startDashboard({ runs, reports, host: '0.0.0.0', port: 0 })).rejects.toThrow(/loopback/);
  });

  it('answers 401 without the token, with a wrong token and with a wrong cookie', async () => {
    for (const path of ['/', '/api/runs', '/runs/cc2d-default-smoke-1/report', '/api/runs/cc2d-default-smoke-1/progress', '/nope']) {
      expect((await call(dash.port, path)).status).toBe(401);
    }
    expect((await call(dash.port, '/?token=wrong')).status).toBe(401);
    expect((await call(dash.port, '/', { headers: { cookie: `cc2d_dashboard_${dash.port}=wrong` } })).status).toBe(401);
    const r = await call(dash.port, '/');
    expect(r.body).not.toContain(dash.token);
  });

  it('trades the token for an HttpOnly SameSite=Strict cookie and drops it from the URL', async () => {
    const r = await call(dash.port, `/?token=${encodeURIComponent(dash.token)}`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const set = String(r.headers['set-cookie']);
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Strict/);
    cookie = set.split(';')[0]!;
    const page = await call(dash.port, '/', { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'nonce-/);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).toContain('cc2d-default-smoke-1');
    expect(page.body).toContain('12.35 mm');
    expect(page.body).toContain('href="/runs/cc2d-default-smoke-1/report"');
    expect(page.body).toContain('ssl 12/40');
    // Everything from visibility is escaped.
    expect(page.body).not.toContain('<script>alert(1)</script>');
    expect(page.body).not.toContain('<img src=x');
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('serves the JSON API with the token in the query (no redirect) or the cookie', async () => {
    const q = await call(dash.port, `/api/runs?token=${encodeURIComponent(dash.token)}`);
    expect(q.status).toBe(200);
    expect(JSON.parse(q.body).runs).toHaveLength(2);
    const p = await call(dash.port, '/api/runs/cc2d-default-smoke-1/progress', { headers: { cookie } });
    expect(p.status).toBe(200);
    expect(JSON.parse(p.body).fraction).toBe(1);
    expect((await call(dash.port, '/api/runs/unknown/progress', { headers: { cookie } })).status).toBe(404);
  });

  it('serves a report with a CSP that forbids scripts and network, 404 when missing, 400 for bad ids', async () => {
    const r = await call(dash.port, '/runs/cc2d-default-smoke-1/report', { headers: { cookie } });
    expect(r.status).toBe(200);
    expect(r.body).toContain('report body');
    expect(r.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(r.headers['content-security-policy']).toMatch(/sandbox/);
    expect(r.headers['content-type']).toMatch(/text\/html/);
    expect((await call(dash.port, '/runs/other/report', { headers: { cookie } })).status).toBe(404);
    expect((await call(dash.port, '/runs/..%2F..%2Fetc/report', { headers: { cookie } })).status).toBe(400);
  });

  it('is read-only and checks the Host header', async () => {
    expect((await call(dash.port, '/', { method: 'POST', headers: { cookie } })).status).toBe(405);
    expect((await call(dash.port, '/api/runs', { method: 'DELETE', headers: { cookie } })).status).toBe(405);
    expect((await call(dash.port, '/', { headers: { cookie, host: `evil.example:${dash.port}` } })).status).toBe(421);
  });

  it('builds the visibility query from a validated site only', () => {
    expect(runsQuery()).toBe("WorkflowType = 'cc2dPipeline'");
    expect(runsQuery('demo-1')).toBe("WorkflowType = 'cc2dPipeline' AND Cc2dSite = 'demo-1'");
    expect(() => runsQuery("x' OR WorkflowType != '")).toThrow(/site/);
    expect(() => runsQuery('Demo')).toThrow(/site/);
  });

  it('never shows storage or Temporal error text (secrets, signatures) to the browser, and scrubs its log (B7)', async () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKESECRETKEY';
    const leak = `AccessDenied for https://s3.example/cc2d/x?X-Amz-Signature=deadbeefcafe&X-Amz-Credential=AKIAABCDEFGHIJKLMNOP%2F2026 secret=${secret}`;
    const logged: string[] = [];
    const prev = process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    const bad = await startDashboard({
      runs: { listRuns: async () => { throw new Error(leak); }, progress: async () => undefined },
      reports: { getReport: async () => { throw new Error(leak); } },
      port: 0,
      token: 't0k3n-for-this-test',
      log: (l) => logged.push(l),
    });
    try {
      const c = { cookie: `cc2d_dashboard_${bad.port}=t0k3n-for-this-test` };
      const bodies = [
        await call(bad.port, '/', { headers: c }),
        await call(bad.port, '/api/runs', { headers: c }),
        await call(bad.port, '/runs/r1/report', { headers: c }),
      ];
      expect(bodies.map((b) => b.status)).toEqual([200, 200, 502]);
      for (const b of bodies) {
        for (const needle of [secret, 'X-Amz-Signature', 'deadbeefcafe', 'AKIAABCDEFGHIJKLMNOP', 's3.example']) expect(b.body).not.toContain(needle);
      }
      expect(logged.length).toBeGreaterThan(0);
      for (const l of logged) {
        expect(l).not.toContain(secret);
        expect(l).not.toContain('deadbeefcafe');
        expect(l).not.toContain('AKIAABCDEFGHIJKLMNOP');
      }
    } finally {
      if (prev === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = prev;
      await bad.close();
    }
  });
});
