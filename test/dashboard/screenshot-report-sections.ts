/**
 * Screenshots the data-free sections of a finished run's HTML report (metrics tables, SDR curve,
 * loss curves) for the README:
 *
 *   npx cc2d dev up && npx tsx test/dashboard/screenshot-report-sections.ts <runId> [outDir]
 *
 * Only #metrics, #sdr and #training are captured: the overlays (#overlays) show the dataset's
 * radiographs, which must never be committed. Not a test; needs /usr/bin/chromium.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { loadStackSettings, PROJECT_ROOT } from '../../infra/config/stack';
import { createS3Store } from '../../infra/storage/s3-store';

const SECTIONS = ['metrics', 'sdr', 'training'] as const;
const [runId, outArg] = process.argv.slice(2);
if (!runId) throw new Error('usage: screenshot-report-sections.ts <runId> [outDir]');
const outDir = path.resolve(outArg ?? path.join(PROJECT_ROOT, 'docs', 'img'));

const store = createS3Store(loadStackSettings());
const html = await store.get(`runs/${runId}/report/report.html`);
store.destroy();
const dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-report-'));
const browser = await chromium.launch({ executablePath: process.env.CC2D_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const file = path.join(dir, 'report.html');
  await writeFile(file, html);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(pathToFileURL(file).toString());
  for (const id of SECTIONS) {
    const png = await page.locator(`#${id}`).screenshot();
    const out = path.join(outDir, `${runId}-${id}.png`);
    await writeFile(out, await sharp(png).png({ palette: true, quality: 90, effort: 10, compressionLevel: 9 }).toBuffer());
    console.error(out);
  }
} finally {
  await browser.close();
  await rm(dir, { recursive: true, force: true });
}
