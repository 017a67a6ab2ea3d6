/**
 * The dashboard's remote codec endpoint (/codec/encode, /codec/decode) for the Temporal UI:
 * 401 without the dashboard token, works with its cookie or a Bearer header, CORS only for the
 * configured UI origin, JSON bodies only. Fake run/report sources; no stack needed.
 */
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../../infra/dashboard/server';
import { AesGcmPayloadCodec } from '../../infra/temporal/payload-codec';

const SECRET = 'FAKE-SECRET-endpoint-41c2';
const UI = 'http://127.0.0.1:8233';

interface Res {
  status: number;
  headers: Headers;
  body: string;
}

async function call(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Res> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: opts.method ?? 'POST', headers: opts.headers ?? {}, ...(opts.body !== undefined ? { body: opts.body } : {}) });
  return { status: r.status, headers: r.headers, body: await r.text() };
}

const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

const codec = new AesGcmPayloadCodec({ currentId: 'k1', keys: new Map([['k1', randomBytes(32)]]), source: 'test' });
const noRuns = { runs: { listRuns: async () => [], progress: async () => undefined }, reports: { getReport: async () => undefined } };
let d: Dashboard;
let off: Dashboard;
let encrypted: string;

beforeAll(async () => {
  d = await startDashboard({ ...noRuns, port: 0, codec, codecOrigin: UI, log: () => undefined });
  off = await startDashboard({ ...noRuns, port: 0, log: () => undefined });
  encrypted = JSON.stringify({ payloads: (await codec.encode([defaultPayloadConverter.toPayload({ note: SECRET })])).map(toJson) });
});
afterAll(async () => {
  await d?.close();
  await off?.close();
});

const json = { 'Content-Type': 'application/json' };

describe('dashboard codec endpoint', () => {
  it('answers 401 without the token (query, cookie or bearer) and decodes nothing', async () => {
    for (const headers of [json, { ...json, Authorization: 'Bearer wrong' }, { ...json, Cookie: `cc2d_dashboard_${d.port}=wrong` }]) {
      const r = await call(d.port, '/codec/decode', { headers, body: encrypted });
      expect(r.status).toBe(401);
      expect(r.body).not.toContain(SECRET);
    }
  });

  it('decodes with the Bearer token (Temporal CLI --codec-auth) or the dashboard cookie (the UI)', async () => {
    for (const auth of [{ Authorization: `Bearer ${d.token}` }, { Cookie: `cc2d_dashboard_${d.port}=${d.token}` }] as Array<Record<string, string>>) {
      const r = await call(d.port, '/codec/decode', { headers: { ...json, ...auth, 'X-Namespace': 'cc2d' }, body: encrypted });
      expect(r.status).toBe(200);
      const out = JSON.parse(r.body) as { payloads: Array<{ data: string }> };
      expect(JSON.parse(Buffer.from(out.payloads[0]!.data, 'base64').toString())).toEqual({ note: SECRET });
    }
  });

  it('encodes to ciphertext that decodes back', async () => {
    const auth = { ...json, Authorization: `Bearer ${d.token}` };
    const enc = await call(d.port, '/codec/encode', { headers: auth, body: JSON.stringify({ payloads: [toJson(defaultPayloadConverter.toPayload(SECRET))] }) });
    expect(enc.status).toBe(200);
    expect(enc.body).not.toContain(Buffer.from(JSON.stringify(SECRET)).toString('base64'));
    const dec = await call(d.port, '/codec/decode', { headers: auth, body: enc.body });
    expect(Buffer.from((JSON.parse(dec.body) as { payloads: Array<{ data: string }> }).payloads[0]!.data, 'base64').toString()).toBe(JSON.stringify(SECRET));
  });

  it('CORS: the preflight and the call succeed for the UI origin only', async () => {
    const pre = await call(d.port, '/codec/decode', { method: 'OPTIONS', headers: { Origin: UI, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(UI);
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
    expect(String(pre.headers.get('access-control-allow-headers'))).toMatch(/X-Namespace/);
    const ok = await call(d.port, '/codec/decode', { headers: { ...json, Origin: UI, Cookie: `cc2d_dashboard_${d.port}=${d.token}` }, body: encrypted });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(UI);
    for (const origin of ['http://evil.example', 'http://127.0.0.1:9999', 'null']) {
      const bad = await call(d.port, '/codec/decode', { headers: { ...json, Origin: origin, Cookie: `cc2d_dashboard_${d.port}=${d.token}` }, body: encrypted });
      expect(bad.status).toBe(403);
      expect(bad.headers.get('access-control-allow-origin')).toBeNull();
      expect(bad.body).not.toContain(SECRET);
      expect((await call(d.port, '/codec/decode', { method: 'OPTIONS', headers: { Origin: origin } })).status).toBe(403);
    }
  });

  it('accepts only POST with a JSON body; bad bodies get 400 without echoing the body', async () => {
    const auth = { Authorization: `Bearer ${d.token}` };
    expect((await call(d.port, '/codec/decode', { method: 'GET', headers: auth })).status).toBe(405);
    expect((await call(d.port, '/codec/decode', { headers: { ...auth, 'Content-Type': 'text/plain' }, body: encrypted })).status).toBe(415);
    const notJson = await call(d.port, '/codec/decode', { headers: { ...auth, ...json }, body: `{${SECRET}` });
    expect(notJson.status).toBe(400);
    expect(notJson.body).not.toContain(SECRET);
    expect((await call(d.port, '/codec/decode', { headers: { ...auth, ...json }, body: '{"x": 1}' })).status).toBe(400);
    expect((await call(d.port, '/codec/other', { headers: { ...auth, ...json }, body: encrypted })).status).toBe(404);
  });

  it('a payload of another key gets 422 with the key id named', async () => {
    const other = new AesGcmPayloadCodec({ currentId: 'k-old', keys: new Map([['k-old', randomBytes(32)]]), source: 'test' });
    const body = JSON.stringify({ payloads: (await other.encode([defaultPayloadConverter.toPayload(SECRET)])).map(toJson) });
    const r = await call(d.port, '/codec/decode', { headers: { ...json, Authorization: `Bearer ${d.token}` }, body });
    expect(r.status).toBe(422);
    expect(r.body).toMatch(/key id "k-old"/);
  });

  it('with encryption off the routes answer 404 (after auth)', async () => {
    expect((await call(off.port, '/codec/decode', { headers: json, body: encrypted })).status).toBe(401);
    const r = await call(off.port, '/codec/decode', { headers: { ...json, Authorization: `Bearer ${off.token}` }, body: encrypted });
    expect(r.status).toBe(404);
    expect(r.body).toMatch(/payload encryption is off/);
  });
});
