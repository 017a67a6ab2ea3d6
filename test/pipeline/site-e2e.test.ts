/**
 * A site end to end through the real CLI, on the real Temporal and S3 servers: a flat folder of
 * 12 ISBI training radiographs (downscaled ×1/4, some in a subfolder) with one CSV template of 5
 * named landmarks, `cc2d site add`, then `cc2d run --site NAME --profile smoke` with nothing else
 * about the data. Without other labels the run completes with predictions for every image and a
 * report without metrics; with 3 labelled evaluation images it scores exactly those 3, in mm.
 * Skips locally without the stack or ISBI_DIR; fails under CI.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { MetricsDocumentSchema, PredictionsDocumentSchema } from '../../contracts/documents';
import type { PipelineResult } from '../../contracts/types';
import { readJson } from '../../infra/storage/read-json';
import { cc2dCli } from '../dataset/support/cc2d-cli';
import { requireStack } from '../support/stack';
import { requireDataset } from '../support/strict';

const stack = await requireStack('site-e2e', { s3: true, temporal: true });
const isbi = stack ? await requireDataset('site-e2e') : undefined;
const folders: string[] = [];
afterAll(async () => {
  await Promise.all(folders.map((d) => rm(d, { recursive: true, force: true })));
  await stack?.cleanup();
});

/** The first 5 ISBI landmarks, under the names a clinic might give them. */
const NAMES = ['Sella', 'Nasion', 'Orbitale', 'Porion', 'Subspinale'];
const IDS = Array.from({ length: 12 }, (_, i) => String(i + 1).padStart(3, '0'));
const TEMPLATE = '001';
const EVAL_IDS = ['004', '009', '011'];
/** 1935×2400 → cropped to 1932 (divisible by 4) → 483×600: coordinates scale by exactly 1/4. */
const SCALE = 4;
const SPACING_MM = 0.1 * SCALE;
const RUN_TIMEOUT_MS = 540_000;
// Routes the run's activities to queues of this file only: other processes in the tests' namespace poll the default ones.
const tag = randomBytes(3).toString('hex');
const QUEUES = ['--set', `taskQueues.gpu=cc2d-gpu-t-site-e2e-${tag}`, '--set', `taskQueues.cpu=cc2d-cpu-t-site-e2e-${tag}`];

const cc2d = cc2dCli(stack?.settings.s3.prefix ?? '', RUN_TIMEOUT_MS);

function lastJson<T = Record<string, unknown>>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

async function seniorPoints(id: string): Promise<Array<[number, number]>> {
  const text = await readFile(path.join(isbi!, 'AnnotationsByMD', '400_senior', `${id}.txt`), 'utf8');
  return text.trim().split('\n').slice(0, NAMES.length).map((l) => l.split(',').map(Number) as [number, number]);
}

/** images/<id>.jpg (ids 007–012 under images/ward-b/), landmarks/<id>.csv for `labelled`. */
async function makeSite(labelled: string[]): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'cc2d-site-e2e-'));
  folders.push(root);
  await mkdir(path.join(root, 'images', 'ward-b'), { recursive: true });
  await mkdir(path.join(root, 'landmarks'));
  for (const id of IDS) {
    const dest = path.join(root, 'images', id > '006' ? 'ward-b' : '', `${id}.jpg`);
    await sharp(path.join(isbi!, 'RawImage', 'TrainingData', `${id}.jpg`))
      .extract({ left: 0, top: 0, width: 1932, height: 2400 })
      .resize(1932 / SCALE, 2400 / SCALE)
      .jpeg({ quality: 92 })
      .toFile(dest);
  }
  for (const id of labelled) {
    const rows = (await seniorPoints(id)).map(([x, y], i) => `${NAMES[i]},${x / SCALE},${y / SCALE}`);
    await writeFile(path.join(root, 'landmarks', `${id}.csv`), ['name,x,y', ...rows, ''].join('\n'));
  }
  return root;
}

interface SiteRun {
  added: Record<string, unknown>;
  result: PipelineResult;
  status: Record<string, unknown>;
  summary: string;
  report: { dataset: { landmarkNames: string[] }; evaluation: { noMetrics?: string } };
  predictedIds: string[];
}

/** `site add NAME --dir … --template 001 --spacing 0.4 --json`, then `run --site NAME --profile smoke`. */
async function onboardAndRun(site: string, labelled: string[]): Promise<SiteRun> {
  const dir = await makeSite(labelled);
  const add = await cc2d(['site', 'add', site, '--dir', dir, '--template', TEMPLATE, '--spacing', String(SPACING_MM), '--json']);
  expect(add.code, add.stderr).toBe(0);
  const added = lastJson(add.stdout);

  const runId = `cc2d-${site}-${tag}`;
  const run = await cc2d(['run', '--site', site, '--profile', 'smoke', '--run-id', runId, '--workers', 'local', '--json', ...QUEUES]);
  expect(run.code, run.stderr).toBe(0);
  const result = lastJson<PipelineResult>(run.stdout);
  // The run reuses the version `site add` published (unchanged folder, same template and spacing).
  expect(result).toMatchObject({ datasetVersion: added.datasetVersion, datasetReused: true });
  const status = await cc2d(['status', runId, '--json']);
  expect(status.code, status.stderr).toBe(0);
  const summary = await cc2d(['status', runId]);

  const { store } = stack!;
  const report = JSON.parse(new TextDecoder().decode(await store.get(result.reportKey))) as SiteRun['report'];
  const predictions = await readJson(store, result.artifacts.predictions.key, PredictionsDocumentSchema);
  for (const pts of Object.values(predictions.predictionsXyPx!)) expect(pts).toHaveLength(NAMES.length);
  return { added, result, status: lastJson(status.stdout), summary: summary.stdout, report, predictedIds: Object.keys(predictions.predictionsXyPx!).sort() };
}

describe.skipIf(!stack || !isbi)('a site onboarded from a flat folder, run through the CLI', () => {
  it('only the template labelled: site add + run --site complete; 5 named landmarks, predictions for all 12 images, no metrics', async () => {
    const r = await onboardAndRun(`e2e-solo-${tag}`, [TEMPLATE]);
    expect(r.added).toMatchObject({ images: 12, labelled: 1, landmarks: 5, landmarkNames: NAMES, evaluation: 0, spacing: 'fixed', spacingMm: SPACING_MM, templateId: TEMPLATE });

    expect(r.result.status).toBe('completed');
    expect(r.result.mreMm).toBeUndefined();
    expect(r.result.noMetrics).toBe('no metrics: no labelled evaluation images');
    expect(r.result.metrics).toEqual({});
    expect(r.status).toMatchObject({ status: 'completed', stage: 'done', site: expect.stringMatching(/^e2e-solo-/) });
    expect(r.status.mre).toBeUndefined();
    expect(r.summary).toContain('no metrics: no labelled evaluation images');

    expect(r.report.dataset.landmarkNames).toEqual(NAMES);
    expect(r.report.evaluation.noMetrics).toBe('no metrics: no labelled evaluation images');
    expect(r.predictedIds).toEqual(IDS);
  }, RUN_TIMEOUT_MS + 60_000);

  it('3 labelled evaluation images: metrics in mm over exactly those 3, predictions for all 12', async () => {
    const r = await onboardAndRun(`e2e-eval-${tag}`, [TEMPLATE, ...EVAL_IDS]);
    expect(r.added).toMatchObject({ images: 12, labelled: 4, landmarks: 5, evaluation: 3, spacing: 'fixed', spacingMm: SPACING_MM });

    expect(r.result.status).toBe('completed');
    expect(r.result.noMetrics).toBeUndefined();
    expect(r.result.unit).toBe('mm');
    expect(r.result.headlineSet).toBe('eval');
    expect(r.result.metrics.A!.eval!.images).toBe(3);
    expect(r.result.metrics.B!.eval!.images).toBe(3);
    expect(Number.isFinite(r.result.mreMm)).toBe(true);
    expect(r.status.mre).toBeCloseTo(r.result.mreMm!, 9);
    expect(r.summary).toMatch(/headline MRE \d+\.\d{3} mm \(eval, protocol A\)/);

    const metrics = await readJson(stack!.store, r.result.artifacts.metrics.key, MetricsDocumentSchema);
    expect(metrics.pixelSpacingMm).toBe(SPACING_MM);
    expect(metrics.landmarkNames).toEqual(NAMES);
    for (const stage of metrics.errors) {
      expect(stage.sets.eval!.map((e) => e.id).sort()).toEqual(EVAL_IDS);
      for (const e of stage.sets.eval!) expect(e.errorsMm).toHaveLength(NAMES.length);
    }
    expect(r.report.dataset.landmarkNames).toEqual(NAMES);
    expect(r.predictedIds).toEqual(IDS);
  }, RUN_TIMEOUT_MS + 60_000);
});
