/**
 * `cc2d predict` and `cc2d report` on the REAL Temporal dev server and REAL S3, after a smoke run
 * on the synthetic ISBI dataset: 3 images predicted through the `cc2dPredict` workflow give a CSV
 * of 3 x K rows and one Slicer markups file per image with K named points in mm; the same request
 * again gives byte-identical files; bad inputs are refused naming the file, with nothing written
 * locally or in S3; the run's HTML report downloads as stored.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPredict, type PredictOptions } from '../../cli/predict-client';
import { runReportHtml } from '../../cli/commands/report';
import { ISBI_LANDMARK_NAMES } from '../../infra/dataset/types';
import { UserError } from '../../infra/errors';
import { CSV_HEADER } from '../../infra/exports/predictions';
import { createHarness, type PipelineHarness } from './support/harness';
import { publishSyntheticSite } from './support/synthetic-site';

const h = await createHarness('predict', { dataset: { train: 4, test1: 3 } });
const K = ISBI_LANDMARK_NAMES.length;

describe.skipIf(!h)('cc2d predict after a smoke run', () => {
  const H = h as PipelineHarness;
  let runId: string;
  let reportHtmlKey: string;
  let tmp: string;
  let images: string[];

  beforeAll(async () => {
    await H.workers(['workflows', 'gpu', 'cpu']);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'cc2d-predict-'));
    runId = H.runId('model');
    const result = await (await H.start(H.input(), runId)).result();
    reportHtmlKey = result.artifacts.reportHtml!.key;
    images = H.dataset.test1.map((id) => path.join(H.dataset.root, 'RawImage', 'Test1Data', `${id}.png`));
  }, 300_000);
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
    await H.cleanup();
  });

  const predict = (o: Partial<PredictOptions>) => runPredict(H.client, H.stack.settings, H.deps.store, {
    paths: [], runId, formats: ['csv', 'json', 'mrk'], workers: 'none', progress: false, spacingMm: 0.1, heartbeatTimeoutSeconds: 10,
    workflowTaskQueue: H.queues.workflows, taskQueues: { gpu: H.queues.gpu, cpu: H.queues.cpu }, ...o,
  });
  const predictionObjects = async () => (await H.deps.store.list('sites/')).map((o) => o.key).filter((k) => !k.includes('/predictions/inputs/'));

  it('3 images: a CSV of 3 x K rows, one .mrk.json per image with K named points in mm, identical bytes the second time', async () => {
    const out1 = path.join(tmp, 'out1');
    const first = await predict({ paths: images, out: out1 });
    expect(first.result).toMatchObject({ images: 3, landmarks: 3 * K, alreadyPublished: false });
    const csv = await readFile(path.join(out1, 'predictions.csv'), 'utf8');
    const rows = parse(csv, { columns: true }) as Array<Record<string, string>>;
    expect(Object.keys(rows[0]!)).toEqual([...CSV_HEADER]);
    expect(rows).toHaveLength(3 * K);
    expect(rows.map((r) => r.image)).toEqual(H.dataset.test1.flatMap((id) => Array<string>(K).fill(id)));
    for (const r of rows) {
      expect(Number(r.x_mm)).toBeCloseTo(Number(r.x_px) * 0.1, 3);
      expect(Number(r.confidence)).toBeGreaterThanOrEqual(0);
      expect(Number(r.confidence)).toBeLessThanOrEqual(1);
      expect(['', 'low-confidence']).toContain(r.flag);
    }
    const markups = (await readdir(path.join(out1, 'markups'))).sort();
    expect(markups).toEqual(H.dataset.test1.map((id) => `${id}.mrk.json`).sort());
    for (const f of markups) {
      const doc = JSON.parse(await readFile(path.join(out1, 'markups', f), 'utf8')) as { markups: Array<{ type: string; coordinateUnits: string; controlPoints: Array<{ label: string; position: number[] }> }> };
      expect(doc.markups).toHaveLength(1);
      expect(doc.markups[0]!.type).toBe('Fiducial');
      expect(doc.markups[0]!.coordinateUnits).toBe('mm');
      expect(doc.markups[0]!.controlPoints.map((p) => p.label)).toEqual([...ISBI_LANDMARK_NAMES]);
      for (const p of doc.markups[0]!.controlPoints) expect(p.position).toHaveLength(3);
    }
    const json = JSON.parse(await readFile(path.join(out1, 'predictions.json'), 'utf8')) as { model: { runId: string; datasetVersion: string; codeVersion: string } };
    expect(json.model.runId).toBe(runId);
    expect(json.model.datasetVersion).toMatch(/^[0-9a-f]{64}$/);
    // Printed in the README's "Use the model" section.
    console.log(csv.split('\r\n').slice(0, 4).join('\n'));

    const out2 = path.join(tmp, 'out2');
    const second = await predict({ paths: images, out: out2 });
    expect(second.result.requestSha256).toBe(first.result.requestSha256);
    expect(second.result.alreadyPublished).toBe(true);
    for (const f of first.written) expect(await readFile(path.join(out2, f))).toEqual(await readFile(path.join(out1, f)));

    // Another request into the same folder replaces the earlier export as a whole: no markups of
    // the first request stay beside the new CSV.
    const third = await predict({ paths: [images[0]!], formats: ['csv'], out: out2 });
    expect(third.written).toEqual(['predictions.csv']);
    expect(await readdir(out2)).toEqual(['predictions.csv']);
  }, 300_000);

  it('bad inputs: exit-2 errors naming the file or dataset, nothing written locally or in S3', async () => {
    const before = await predictionObjects();
    const bad = path.join(tmp, 'bad');
    await mkdir(path.join(bad, 'empty'), { recursive: true });
    await writeFile(path.join(bad, 'broken.png'), 'not an image');
    const out = path.join(tmp, 'never');
    await expect(predict({ paths: [images[0]!, path.join(bad, 'broken.png')], out })).rejects.toThrow(/broken\.png: not a PNG/);
    await expect(predict({ paths: [path.join(bad, 'empty')], out })).rejects.toThrow(/empty: no images in this folder/);
    await expect(predict({ paths: [images[0]!], runId: 'no-such-run', out })).rejects.toThrow(UserError);
    const other = await publishSyntheticSite(H.deps.store, { landmarkNames: ['Apex'], unlabelled: 1, labelledEval: 0, spacingMm: 0.1, sizes: [64] });
    await expect(predict({ datasetVersion: other.datasetVersion, out })).rejects.toThrow(new RegExp(`dataset version ${other.datasetVersion}.*not the model's ${K}`));
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
    // An --out that is a file, or a folder of other files, is refused before anything is predicted.
    const file = path.join(tmp, 'build.js');
    await writeFile(file, '');
    await expect(predict({ paths: [images[0]!], out: file })).rejects.toThrow(/--out .*build\.js: a file, not a folder/);
    await expect(predict({ paths: [images[0]!], out: bad })).rejects.toThrow(/--out .*bad: holds files that are not an earlier export \(broken\.png, empty\/\)/);
    expect(await predictionObjects()).toEqual(before);
  }, 120_000);

  it('cc2d report: the run\'s HTML report, byte for byte', async () => {
    const html = await runReportHtml(H.deps.store, runId);
    expect(Buffer.from(html).equals(Buffer.from(await H.deps.store.get(reportHtmlKey)))).toBe(true);
    expect(new TextDecoder().decode(html.subarray(0, 200))).toMatch(/<!doctype html>/i);
  });
});
