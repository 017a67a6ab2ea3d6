/**
 * Regenerates docs/img/{dashboard,report,report-overlays}.png from REAL smoke runs on the local
 * stack, on a SYNTHETIC ISBI-layout dataset (ISBI radiographs must never be committed):
 *
 *   npx cc2d dev up && npx tsx test/dashboard/make-screenshots.ts [outDir]
 *
 * Run A (site "demo") finishes; run B (same site, longer SSL) is still running when the
 * dashboard is captured, so live progress shows. Screenshots are palette-compressed PNGs.
 * Not a test (no .test.ts suffix); needs /usr/bin/chromium (infra/install-browser.sh).
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { PROJECT_ROOT } from '../../infra/config/stack';
import { makeSyntheticIsbi } from '../pipeline/support/synthetic-isbi';

const SITE = process.env.CC2D_DEMO_SITE ?? 'example';
const CLI = path.join(PROJECT_ROOT, 'bin', 'cc2d.mjs');
const outDir = path.resolve(process.argv[2] ?? path.join(PROJECT_ROOT, 'docs', 'img'));

function cc2d(args: string[], onStdoutLine?: (line: string) => void): { done: Promise<string[]>; kill: () => void } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      onStdoutLine?.(line);
    }
  });
  const done = new Promise<string[]>((resolve, reject) => {
    child.once('exit', (code, signal) => (code === 0 || signal === 'SIGTERM' ? resolve(lines) : reject(new Error(`cc2d ${args[0]} exited ${code ?? signal}`))));
  });
  return { done, kill: () => child.kill('SIGTERM') };
}

async function compress(png: Buffer, file: string): Promise<void> {
  const out = await sharp(png).png({ palette: true, quality: 90, effort: 10, compressionLevel: 9 }).toBuffer();
  await writeFile(file, out);
  console.error(`${file}: ${(out.byteLength / 1024).toFixed(0)} KB`);
  if (out.byteLength > 300 * 1024) console.error(`WARNING: ${file} is over 300 KB`);
}

const dataset = await makeSyntheticIsbi({ train: 10, test1: 6, seed: 7 });
let b: ReturnType<typeof cc2d> | undefined;
try {
  const common = ['--profile', 'smoke', '--dataset', dataset.root, '--template', dataset.train[1]!, '--site', SITE];
  const a = await cc2d(['run', ...common, '--json']).done;
  const resultA = JSON.parse(a[a.length - 1]!) as { runId: string; mreMm: number };
  console.error(`run A: ${resultA.runId} MRE ${resultA.mreMm}`);

  b = cc2d(['run', ...common, '--seed', '7', '--set', 'overrides.ssl.steps=400', '--json']);
  let loginUrl = '';
  const dash = cc2d(['dashboard', '--port', '0', '--site', SITE], (line) => {
    if (line.startsWith('http://')) loginUrl = line.trim();
  });
  while (!loginUrl) await new Promise((r) => setTimeout(r, 200));

  await mkdir(outDir, { recursive: true });
  const browser = await chromium.launch({ executablePath: process.env.CC2D_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 260 } });
    await page.goto(loginUrl);
    // Wait until run B is listed as running with live SSL progress.
    await page.waitForFunction(
      () => {
        // Runs in the page (no DOM lib in this tsconfig); the page's CSP forbids string eval.
        const doc = (globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document;
        const live = doc.querySelector('tr[data-status="running"] .live');
        return live !== null && /ssl [1-9]\d*\/\d+/.test(live.textContent ?? '');
      },
      undefined,
      { timeout: 180_000, polling: 500 },
    );
    await compress(await page.screenshot(), path.join(outDir, 'dashboard.png'));

    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(new URL(`/runs/${encodeURIComponent(resultA.runId)}/report`, loginUrl).toString());
    await compress(await page.screenshot(), path.join(outDir, 'report.png'));
    await compress(await page.locator('#overlays').screenshot(), path.join(outDir, 'report-overlays.png'));
  } finally {
    await browser.close();
    dash.kill();
    await dash.done.catch(() => undefined);
  }
} finally {
  // Run B reads the dataset folder: let it finish (its CLI hosts its workers) before removing it.
  if (b) {
    console.error('waiting for run B to finish');
    await b.done.catch((err: unknown) => console.error(String(err)));
  }
  await dataset.cleanup();
}
