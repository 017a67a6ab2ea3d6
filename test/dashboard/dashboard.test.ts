/**
 * End to end, in a real browser: a finished smoke run on the REAL stack (Temporal dev server +
 * SeaweedFS, synthetic ISBI-layout dataset, in-process workers on this file's own queues), the
 * real `npx cc2d dashboard` process, and Debian's chromium driven headless by playwright-core.
 *
 * - without the token every URL answers 401;
 * - with the printed URL the run is listed (status completed, MRE shown);
 * - its report opens from the dashboard and the overlay images have loaded (naturalWidth > 0).
 *
 * Under CI or CC2D_TEST_STRICT (`npm run test:all`) a missing chromium or stack FAILS the file;
 * otherwise it is skipped with a note.
 * Install chromium with `bash infra/install-browser.sh` (part of `npm run setup`).
 * With CC2D_SCREENSHOTS_DIR set, screenshots of the dashboard and the report are saved there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineResult } from '../../contracts/types';
import { PROJECT_ROOT } from '../../infra/config/stack';
import { createHarness, type PipelineHarness } from '../pipeline/support/harness';
import { requireBrowser } from '../support/strict';

const CHROMIUM = requireBrowser('dashboard');
const h = CHROMIUM ? await createHarness('dashboard') : undefined;

/** Starts `cc2d dashboard --port 0` and resolves with the login URL it prints (first stdout line). */
function startDashboardProcess(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; loginUrl: string; stderr: () => string }> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'cc2d.mjs'), 'dashboard', '--port', '0'], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dashboard did not print its URL within 90 s; stderr:\n${err}`)), 90_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('http://'));
      if (line) {
        clearTimeout(timer);
        resolve({ child, loginUrl: line.trim(), stderr: () => err });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dashboard exited with ${code} before printing its URL; stderr:\n${err}`));
    });
  });
}

describe.skipIf(!h)('cc2d dashboard in chromium (real stack, smoke run)', () => {
  const H = h as PipelineHarness;
  let result: PipelineResult;
  let dash: Awaited<ReturnType<typeof startDashboardProcess>>;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    await H.workers(['workflows', 'gpu', 'cpu']);
    const handle = await H.start(H.input());
    result = await handle.result();
    expect(result.status).toBe('completed');
    // The dashboard reads reports from this file's S3 prefix (same bucket and credentials chain).
    dash = await startDashboardProcess({ ...process.env, CC2D_S3_PREFIX: H.stack.settings.s3.prefix });
    base = dash.loginUrl.slice(0, dash.loginUrl.indexOf('?'));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  }, 900_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    if (dash?.child.exitCode === null) {
      const exited = new Promise((r) => dash.child.once('exit', r));
      dash.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (dash.child.exitCode === null) dash.child.kill('SIGKILL');
    }
    await H?.cleanup();
  }, 60_000);

  it('answers 401 to every request without the token', async () => {
    for (const p of ['', 'api/runs', `runs/${encodeURIComponent(result.runId)}/report`, `api/runs/${encodeURIComponent(result.runId)}/progress`]) {
      const res = await fetch(`${base}${p}`, { redirect: 'manual' });
      expect(res.status, p).toBe(401);
      expect(await res.text()).not.toContain(dash.loginUrl.slice(dash.loginUrl.indexOf('=') + 1));
    }
    const wrong = await fetch(`${base}?token=not-the-token`, { redirect: 'manual' });
    expect(wrong.status).toBe(401);
    // A browser without the cookie gets 401 too.
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const res = await page.goto(base);
    expect(res?.status()).toBe(401);
    await ctx.close();
  });

  it('lists the finished run with status and MRE, opens its report, and the overlay images load', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await ctx.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(dash.loginUrl);
    // The token was traded for a cookie and dropped from the address bar.
    expect(page.url()).toBe(base);
    const row = page.locator(`tr[data-run-id="${result.runId}"]`);
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    await expect.poll(() => row.locator('.status').textContent(), { timeout: 20_000 }).toBe('completed');
    // Visibility can lag the workflow's close by a moment; the page re-polls /api/runs.
    await expect.poll(async () => (await row.locator('td.mre').textContent())?.trim(), { timeout: 20_000 }).toBe(`${result.mreMm!.toFixed(2)} mm`);
    expect((await row.textContent())!).toContain('smoke');

    const shots = process.env.CC2D_SCREENSHOTS_DIR;
    if (shots) {
      await mkdir(shots, { recursive: true });
      await page.screenshot({ path: path.join(shots, 'dashboard.png') });
    }

    await Promise.all([page.waitForURL(/\/runs\/[^/]+\/report$/), row.locator('a.report').click()]);
    expect(await page.title()).toBe(`CC2D run report · ${result.runId}`);
    const overlays = page.locator('#overlays img[data-case]');
    await overlays.first().waitFor({ state: 'visible' });
    expect(await overlays.count()).toBe(3);
    for (const c of ['best', 'median', 'worst']) {
      const img = page.locator(`#overlays img[data-case="${c}"]`);
      await expect.poll(() => img.evaluate((e) => {
        const im = e as unknown as { complete: boolean; naturalWidth: number };
        return im.complete ? im.naturalWidth : 0;
      }), { timeout: 10_000 }).toBeGreaterThan(0);
      expect(await img.isVisible()).toBe(true);
    }
    const text = (await page.locator('body').textContent())!;
    expect(text).toContain(`Protocol A (paper, ${H.input().profile.inputSize} grid)`);
    expect(text).toContain(result.mreMm!.toFixed(2));
    // The report loaded nothing from anywhere: only the dashboard page, its API and the report.
    for (const u of requests) expect(u.startsWith(base) || u.startsWith('data:'), u).toBe(true);

    if (shots) await page.screenshot({ path: path.join(shots, 'report.png'), fullPage: true });
    await ctx.close();
  });
});
