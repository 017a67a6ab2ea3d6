/**
 * `cc2d dashboard`: a small read-only web server for the runs of one Temporal namespace.
 *
 * Security (docs/reliability.md#dashboard-authentication and #b7):
 * - Binds to a loopback address only (127.0.0.1 by default; anything else is refused).
 * - A random 256-bit token is generated at start and printed once as `…/?token=…`. Every
 *   request must carry it, as `?token=` or as the HttpOnly, SameSite=Strict cookie set on the
 *   first visit (the page then redirects to drop the token from the address bar); otherwise 401.
 *   Tokens are compared in constant time.
 * - The Host header must name the loopback address and port (DNS-rebinding defence).
 * - Read-only: GET and HEAD only (405 otherwise); there is no cancel, terminate or schedule edit.
 * - Reports are read from S3 by this process and sent as bytes: no presigned URL, no credential,
 *   no S3 endpoint ever reaches the browser. Error responses carry no internal messages.
 * - Every response: no-store, nosniff, no-referrer, frame-ancestors 'none'; the page's script
 *   runs under a per-response CSP nonce; a report is served with a CSP that forbids scripts and
 *   network access (`sandbox`).
 * - With payload encryption on, POST /codec/encode and /codec/decode serve the Temporal UI's
 *   remote codec protocol behind the same token (cookie, `?token=` or `Authorization: Bearer`);
 *   browsers may call them only from the configured UI origin (CORS), and only with a JSON body,
 *   so a cross-site form cannot reach them.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ChampionDocument } from '../../contracts/documents';
import { championListing } from '../models/champion';
import type { AddressInfo } from 'node:net';
import type { PayloadCodec } from '@temporalio/common';
import { scrubSecrets } from '../storage/s3-store';
import { CodecRequestError, PayloadDecryptionError, runCodecRequest } from '../temporal/payload-codec';
import { compareRuns } from '../compare/compare';
import { renderDashboardPage } from './page';
import { SITE_RE, type CompareSource, type ReportSource, type RunRow, type RunSource, type SiteSource } from './sources';
import { renderComparePage, renderSitePage } from './views';

export const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'] as const;

export interface DashboardOptions {
  runs: RunSource;
  reports: ReportSource;
  /** Published runs' snapshots for /compare; absent: those routes answer 404. */
  compare?: CompareSource;
  /** Champions for the site view (/sites/<site>); absent: no champion is shown. */
  sites?: SiteSource;
  /** Default 127.0.0.1; must be a loopback address. */
  host?: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Shown in the page header. */
  namespace?: string;
  /** Shown in the page header when the list is filtered to one site. */
  site?: string;
  /** For tests; default: 32 random bytes, base64url. */
  token?: string;
  /** Rows listed (newest first). */
  limit?: number;
  log?: (line: string) => void;
  /** Served at /codec/{encode,decode} (the Temporal UI's remote codec); absent: those routes answer 404. */
  codec?: PayloadCodec;
  /** The origin of the Temporal UI, e.g. http://127.0.0.1:8233: the only one CORS lets call the codec routes. */
  codecOrigin?: string;
}

export interface Dashboard {
  /** Base URL without the token, e.g. http://127.0.0.1:8787/ */
  url: string;
  /** The URL to open: base URL with ?token=… */
  loginUrl: string;
  token: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

const RUN_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,511}$/;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined || given === '') return false;
  return timingSafeEqual(digest(given), digest(token));
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

const BASE_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

const REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox";

function send(res: ServerResponse, status: number, body: string | Uint8Array, type: string, extra: Record<string, string> = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  res.writeHead(status, { ...BASE_HEADERS, 'Content-Type': type, 'Content-Length': String(bytes.byteLength), ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : bytes);
}

function sendText(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  send(res, status, `${text}\n`, 'text/plain; charset=utf-8', { 'Content-Security-Policy': "default-src 'none'", ...extra });
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8', { 'Content-Security-Policy': "default-src 'none'" });
}

/** A codec request carries at most a few history events' payloads; Temporal caps one payload at 2 MiB. */
const CODEC_BODY_LIMIT = 16 * 1024 * 1024;

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function isLoopback(host: string): boolean {
  return (LOOPBACK_HOSTS as readonly string[]).includes(host.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Starts the dashboard. Throws when `host` is not a loopback address or the port is taken. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopback(host)) {
    throw new Error(`dashboard: refusing to bind to ${host}; it listens on a loopback address only (127.0.0.1, ::1). Use an SSH tunnel to reach it from elsewhere.`);
  }
  const token = options.token ?? randomBytes(32).toString('base64url');
  const limit = options.limit ?? 200;
  const log = options.log ?? ((line: string) => console.error(line));
  let port = options.port ?? 8787;
  let cookieName = `cc2d_dashboard_${port}`;
  const allowedHosts = (): Set<string> => {
    const hosts = new Set<string>();
    for (const h of ['127.0.0.1', 'localhost', '[::1]']) hosts.add(`${h}:${port}`);
    if (host.includes(':')) hosts.add(`[${host}]:${port}`);
    else hosts.add(`${host}:${port}`);
    return hosts;
  };

  async function listRows(): Promise<{ rows: RunRow[]; error?: string }> {
    try {
      return { rows: await options.runs.listRuns(limit) };
    } catch (err) {
      log(`dashboard: listing runs failed: ${scrubSecrets(String((err as Error)?.message ?? err))}`);
      return { rows: [], error: 'Cannot list runs from Temporal right now (is the server up?). Retrying.' };
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const hostHeader = (req.headers.host ?? '').toLowerCase();
    if (!allowedHosts().has(hostHeader)) {
      sendText(res, 421, 'Misdirected request: unexpected Host header.');
      return;
    }
    const url = new URL(req.url ?? '/', `http://${hostHeader}`);
    const queryToken = url.searchParams.get('token') ?? undefined;
    const cookieToken = parseCookies(req.headers.cookie).get(cookieName);
    const viaQuery = sameToken(queryToken, token);
    if (url.pathname.startsWith('/codec/')) {
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      await handleCodec(req, res, url.pathname, viaQuery || sameToken(cookieToken, token) || sameToken(bearer, token));
      return;
    }
    if (!viaQuery && !sameToken(cookieToken, token)) {
      sendText(res, 401, 'Unauthorized: open the URL printed by `npx cc2d dashboard` (it carries ?token=...).', { 'WWW-Authenticate': 'Cookie' });
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendText(res, 405, 'Method not allowed: the dashboard is read-only.', { Allow: 'GET, HEAD' });
      return;
    }
    const cookie = `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    if (viaQuery && !url.pathname.startsWith('/api/')) {
      // Trade the token in the URL for a cookie and drop it from the address bar and history.
      url.searchParams.delete('token');
      res.writeHead(303, { ...BASE_HEADERS, 'Set-Cookie': cookie, Location: `${url.pathname}${url.search}`, 'Content-Length': '0' });
      res.end();
      return;
    }

    const path = url.pathname;
    if (path === '/' || path === '/index.html') {
      const { rows, error } = await listRows();
      const nonce = randomBytes(16).toString('base64');
      send(res, 200, renderDashboardPage(rows, { nonce, namespace: options.namespace ?? '', ...(options.site ? { site: options.site } : {}), ...(error ? { error } : {}) }), 'text/html; charset=utf-8', {
        'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      });
      return;
    }
    if (path === '/api/runs') {
      const { rows, error } = await listRows();
      sendJson(res, 200, { runs: rows, generatedAt: new Date().toISOString(), ...(error ? { error } : {}) });
      return;
    }
    if (path === '/compare' || path === '/api/compare') {
      await handleCompare(res, url, path === '/api/compare');
      return;
    }
    const site = /^\/(api\/sites|sites)\/([^/]+)$/.exec(path);
    if (site) {
      await handleSite(res, site[2]!, site[1] === 'api/sites');
      return;
    }
    const m = /^\/(api\/runs|runs)\/([^/]+)\/(progress|report)$/.exec(path);
    if (m) {
      let runId: string;
      try {
        runId = decodeURIComponent(m[2]!);
      } catch {
        sendText(res, 400, 'Bad run id.');
        return;
      }
      if (!RUN_ID_RE.test(runId)) {
        sendText(res, 400, 'Bad run id.');
        return;
      }
      if (m[1] === 'api/runs' && m[3] === 'progress') {
        const p = await options.runs.progress(runId);
        if (!p) sendJson(res, 404, { error: 'no progress (run unknown, finished long ago, or its workers are not answering)' });
        else sendJson(res, 200, p);
        return;
      }
      if (m[1] === 'runs' && m[3] === 'report') {
        let bytes: Uint8Array | undefined;
        try {
          bytes = await options.reports.getReport(runId);
        } catch (err) {
          log(`dashboard: reading the report of ${runId} failed: ${scrubSecrets(String((err as Error)?.message ?? err))}`);
          sendText(res, 502, 'The report could not be read from storage right now.');
          return;
        }
        if (!bytes) {
          sendText(res, 404, 'This run has no HTML report (yet).');
          return;
        }
        send(res, 200, bytes, 'text/html; charset=utf-8', { 'Content-Security-Policy': REPORT_CSP });
        return;
      }
    }
    sendText(res, 404, 'Not found.');
  }

  const VIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  /** Two published runs side by side: ?a=<run>&b=<run>. */
  async function handleCompare(res: ServerResponse, url: URL, json: boolean): Promise<void> {
    const ids = [url.searchParams.get('a') ?? '', url.searchParams.get('b') ?? ''];
    if (!ids.every((id) => RUN_ID_RE.test(id))) {
      sendText(res, 400, 'Bad request: give two run ids, /compare?a=<run>&b=<run>.');
      return;
    }
    if (!options.compare) {
      sendText(res, 404, 'Not found: comparing runs needs the artifact store.');
      return;
    }
    let snapshots;
    try {
      snapshots = await Promise.all(ids.map((id) => options.compare!.snapshot(id)));
    } catch (err) {
      log(`dashboard: reading runs ${ids.join(', ')} for a comparison failed: ${scrubSecrets(String((err as Error)?.message ?? err))}`);
      sendText(res, 502, 'The runs could not be read from storage right now.');
      return;
    }
    const missing = ids.filter((_id, i) => !snapshots[i]);
    if (missing.length > 0) {
      sendText(res, 404, `Not a published run (only completed runs can be compared): ${missing.join(', ')}`);
      return;
    }
    const comparison = compareRuns(snapshots[0]!, snapshots[1]!);
    if (json) sendJson(res, 200, comparison);
    else send(res, 200, renderComparePage(comparison), 'text/html; charset=utf-8', { 'Content-Security-Policy': VIEW_CSP });
  }

  /** A site's champion and the MRE of its runs over time (runs from visibility, newest first). */
  async function handleSite(res: ServerResponse, raw: string, json: boolean): Promise<void> {
    let site: string;
    try {
      site = decodeURIComponent(raw);
    } catch {
      site = '';
    }
    if (!SITE_RE.test(site)) {
      sendText(res, 400, 'Bad site name.');
      return;
    }
    const { rows, error } = await listRows();
    const siteRows = rows.filter((r) => r.site === site);
    let champion: ChampionDocument | undefined;
    try {
      champion = await options.sites?.champion(site);
    } catch (err) {
      log(`dashboard: reading the champion of ${site} failed: ${scrubSecrets(String((err as Error)?.message ?? err))}`);
    }
    if (json) {
      // `champion` stays the run id it always was; `championEntry`, `revision`, `history` and
      // `rolledBack` are `cc2d models list --json`'s `champion`, `revision`, `history`, `rolledBack`.
      const { champion: championEntry, ...listing } = championListing(champion);
      sendJson(res, 200, { site, champion: championEntry?.runId ?? null, championEntry, ...listing, runs: siteRows, ...(error ? { error } : {}) });
    } else send(res, 200, renderSitePage(site, siteRows, champion), 'text/html; charset=utf-8', { 'Content-Security-Policy': VIEW_CSP });
  }

  async function handleCodec(req: IncomingMessage, res: ServerResponse, path: string, authorized: boolean): Promise<void> {
    const origin = req.headers.origin;
    const cors: Record<string, string> = {};
    if (origin !== undefined) {
      if (options.codecOrigin === undefined || origin !== options.codecOrigin) {
        sendText(res, 403, 'Forbidden: this origin may not call the codec.');
        return;
      }
      Object.assign(cors, { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' });
    }
    if (req.method === 'OPTIONS') {
      // The CORS preflight carries no credentials; the request that follows must.
      res.writeHead(204, {
        ...BASE_HEADERS,
        ...cors,
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': 'Content-Type, Authorization, X-Namespace',
        'Access-Control-Max-Age': '600',
        'Content-Length': '0',
      });
      res.end();
      return;
    }
    if (!authorized) {
      sendText(res, 401, 'Unauthorized: send the dashboard token (cookie from its login URL, or Authorization: Bearer <token>).', { ...cors, 'WWW-Authenticate': 'Bearer' });
      return;
    }
    const op = /^\/codec\/(encode|decode)$/.exec(path)?.[1] as 'encode' | 'decode' | undefined;
    if (!options.codec || !op) {
      sendText(res, 404, options.codec ? 'Not found: use /codec/encode or /codec/decode.' : 'Not found: payload encryption is off (no payload key configured).', cors);
      return;
    }
    if (req.method !== 'POST') {
      sendText(res, 405, 'Method not allowed: POST a JSON body.', { ...cors, Allow: 'POST, OPTIONS' });
      return;
    }
    if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      sendText(res, 415, 'Unsupported media type: send Content-Type: application/json.', cors);
      return;
    }
    const body = await readBody(req, CODEC_BODY_LIMIT);
    if (!body) {
      sendText(res, 413, 'Payload too large.', { ...cors, Connection: 'close' });
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      // Not the parser's message: it quotes the body, which may be plaintext data.
      sendText(res, 400, 'Bad request: the body is not JSON.', cors);
      return;
    }
    let result;
    try {
      result = await runCodecRequest(options.codec, op, json);
    } catch (err) {
      // Both name JSON paths or key ids only, never payload contents or keys.
      if (err instanceof CodecRequestError) sendText(res, 400, `Bad request: ${err.message}`, cors);
      else if (err instanceof PayloadDecryptionError) sendText(res, 422, err.message, cors);
      else throw err;
      return;
    }
    send(res, 200, JSON.stringify(result), 'application/json; charset=utf-8', { ...cors, 'Content-Security-Policy': "default-src 'none'" });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`dashboard: ${scrubSecrets(String((err as Error)?.stack ?? err))}`);
      if (!res.headersSent) sendText(res, 500, 'Internal error.');
      else res.destroy();
    });
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  cookieName = `cc2d_dashboard_${port}`;
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  return {
    url: base,
    loginUrl: `${base}?token=${token}`,
    token,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
