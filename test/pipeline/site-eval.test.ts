/**
 * Site runs on the REAL Temporal dev server and REAL S3 (smoke profile), on synthetic SITE
 * datasets published by the test as v2 dataset versions: K = 1 with labelled evaluation images and
 * a known spacing (metrics in mm), K = 30 with labelled evaluation images and no spacing (metrics
 * in px, Cc2dMre not set, the unit in the memo), and a site annotated on its template only (no
 * metrics anywhere, predictions for every image, the report in its no-metrics mode).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsDocumentSchema, PredictionsDocumentSchema } from '../../contracts/documents';
import type { PipelineResult } from '../../contracts/types';
import { searchAttributesOf } from '../../cli/pipeline-client';
import { formatResult } from '../../cli/format';
import { headlineOf } from '../../infra/dashboard/sources';
import { readJson } from '../../infra/storage/read-json';
import { createHarness, type PipelineHarness } from './support/harness';
import { publishSyntheticSite, type SyntheticSiteOptions } from './support/synthetic-site';

const h = await createHarness('site-eval', { dataset: { train: 1, test1: 1 } });

describe.skipIf(!h)('site runs (any K, unit per spacing, no test labels)', () => {
  const H = h as PipelineHarness;
  beforeAll(async () => {
    await H.workers(['workflows', 'gpu', 'cpu']);
  });
  afterAll(() => H.cleanup());

  async function run(opts: Omit<SyntheticSiteOptions, 'sizes'>) {
    const site = await publishSyntheticSite(H.deps.store, { ...opts, sizes: [64] });
    // No split flags: the plan takes the site's own evaluation split.
    const handle = await H.start(H.input({ dataset: { version: site.datasetVersion }, templateId: site.templateId }));
    const result: PipelineResult = await handle.result();
    const [metrics, predictions] = await Promise.all([
      readJson(H.deps.store, result.artifacts.metrics, MetricsDocumentSchema),
      readJson(H.deps.store, result.artifacts.predictions, PredictionsDocumentSchema),
    ]);
    const html = new TextDecoder().decode(await H.deps.store.get(result.artifacts.reportHtml!.key));
    const desc = await handle.describe();
    return { site, result, metrics, predictions, html, attrs: searchAttributesOf(desc as never), headline: headlineOf(desc) };
  }

  it('K = 1 with labelled evaluation images and a fixed spacing: metrics in mm for those images', async () => {
    const r = await run({ landmarkNames: ['Apex'], unlabelled: 4, labelledEval: 2, spacingMm: 0.2 });
    expect(r.result.unit).toBe('mm');
    expect(r.result.headlineSet).toBe('eval');
    expect(r.result.metrics.A!.eval!.images).toBe(2);
    expect(Number.isFinite(r.result.mreMm)).toBe(true);
    expect(r.metrics.errors[0]!.sets.eval!.map((e) => e.id)).toEqual(r.site.evalIds);
    expect(r.metrics.errors[0]!.sets.eval![0]!.errorsMm).toHaveLength(1);
    expect(Object.keys(r.predictions.predictionsYx).sort()).toEqual([...r.site.trainIds, ...r.site.evalIds].sort());
    expect(r.predictions.landmarkNames).toEqual(['Apex']);
    expect(r.attrs.mre).toBeCloseTo(r.result.mreMm!, 9);
    expect(r.headline).toEqual({ mre: r.result.mreMm, unit: 'mm' });
    expect(r.html).toContain('<td>Apex</td>');
    expect(r.html).toContain('MRE mm');
    expect(r.html).not.toContain('Beside the paper');
  }, 240_000);

  it('K = 30 with labelled evaluation images and no spacing: metrics in px, Cc2dMre not set', async () => {
    const names = Array.from({ length: 30 }, (_, i) => `Point ${i + 1}`);
    const r = await run({ landmarkNames: names, unlabelled: 3, labelledEval: 2, spacingMm: null });
    expect(r.result.unit).toBe('px');
    expect(r.result.metrics.B!.eval!.images).toBe(2);
    expect(r.metrics.unit).toBe('px');
    expect(r.metrics.errors[0]!.sets.eval![0]!.errorsMm).toHaveLength(30);
    expect(r.predictions.predictionsXyPx![r.site.templateId]).toHaveLength(30);
    expect(r.attrs.mre).toBeUndefined();
    expect(r.headline).toEqual({ mre: r.result.mreMm, unit: 'px' });
    expect(formatResult(r.result)).toContain('px (no pixel spacing)');
    expect(r.html).toContain('MRE px (no pixel spacing)');
    expect(r.html).toContain('<td>Point 30</td>');
  }, 240_000);

  it('only the template labelled: predictions for every image, the report without metrics', async () => {
    const names = ['Nasion', 'Sella', 'Menton', 'Gonion', 'Pogonion'];
    const r = await run({ landmarkNames: names, unlabelled: 5, labelledEval: 0, spacingMm: 0.1 });
    expect(r.result.status).toBe('completed');
    expect(r.result.mreMm).toBeUndefined();
    expect(r.result.noMetrics).toBe('no metrics: no labelled evaluation images');
    expect(r.result.metrics).toEqual({});
    expect(r.result.sslMetrics).toBeUndefined();
    expect(r.metrics.noMetrics).toBe('no metrics: no labelled evaluation images');
    expect(r.metrics.errors).toEqual([]);
    expect(Object.keys(r.predictions.predictionsXyPx!).sort()).toEqual([...r.site.trainIds].sort());
    for (const pts of Object.values(r.predictions.predictionsXyPx!)) expect(pts).toHaveLength(5);
    expect(r.attrs.mre).toBeUndefined();
    expect(r.attrs.status).toBe('completed');
    expect(r.headline).toBeUndefined();
    expect(formatResult(r.result)).toContain('no metrics: no labelled evaluation images');
    expect(r.html).toContain('no metrics: no labelled evaluation images');
    expect(r.html).toContain('6 images × 5 landmarks');
    for (const n of names) expect(r.html).toContain(`${n} (x, y px)`);
    expect([...r.html.matchAll(/data-case="sample"/g)]).toHaveLength(3);
    const report = JSON.parse(new TextDecoder().decode(await H.deps.store.get(r.result.reportKey))) as { evaluation: Record<string, unknown>; dataset: { landmarkNames: string[] } };
    expect(report.evaluation.noMetrics).toBe('no metrics: no labelled evaluation images');
    expect(report.evaluation.headline).toBeUndefined();
    expect(report.dataset.landmarkNames).toEqual(names);
  }, 240_000);
});
