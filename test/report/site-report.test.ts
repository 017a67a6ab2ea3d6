/**
 * Reports of site runs: landmark names from the dataset, the unit in every table header (px when
 * no pixel spacing is known), no paper tables outside ISBI, and the no-metrics mode (predictions
 * table, overlays of predicted points) when no evaluation image is labelled.
 */
import { describe, expect, it } from 'vitest';
import { buildRunReportInput, renderRunReport, type RunReportInput } from '../../infra/report';
import { syntheticErrors, syntheticPoints, syntheticRadiograph, syntheticReportInput } from './fixture';

const NAMES = ['Nasion', 'Sella', 'Menton', 'Gonion', 'Pogonion'];

function headers(html: string): string[] {
  return [...html.matchAll(/<th[^>]*>(.*?)<\/th>/g)].map((m) => m[1]!);
}

async function siteInput(overrides: Partial<RunReportInput> = {}): Promise<RunReportInput> {
  const base = await syntheticReportInput();
  const images = syntheticErrors(3, 1, 12, 3, NAMES.length).map((im, i) => ({ ...im, id: `img-${i}` }));
  return {
    ...base,
    landmarkNames: NAMES,
    datasetKind: 'site',
    lineage: { ...base.lineage, templateId: 'tpl', pixelSpacingMm: null, testIdsCovered: { eval: images.map((i) => i.id) }, missingTestSplits: [] },
    metrics: [{ protocol: 'A', sets: [{ split: 'eval', images }] }],
    pseudoLabels: undefined,
    overlays: [],
    ...overrides,
  };
}

describe('site reports', () => {
  it('names the landmarks from the dataset and puts "px (no pixel spacing)" in every table header', async () => {
    const html = await renderRunReport(await siteInput({ unit: 'px' }));
    for (const name of NAMES) expect(html).toContain(`<td>${name}</td>`);
    expect(html).not.toContain('<td>Orbitale</td>'); // no ISBI default when names are given
    const hs = headers(html);
    expect(hs).toContain('MRE px (no pixel spacing)');
    expect(hs.filter((h) => /\bmm\b/.test(h))).toEqual([]);
    expect(hs).toContain('SDR 2 px %');
    expect(html).toContain('in pixels: no pixel spacing');
  });

  it('shows the paper reference only for ISBI datasets', async () => {
    const site = await renderRunReport(await siteInput());
    expect(site).not.toContain('Beside the paper');
    expect(site).not.toContain('2.72');
    expect(site).not.toContain('Paper CC2D');
    expect(headers(site)).toContain('MRE mm');
    const isbi = await renderRunReport(await syntheticReportInput());
    expect(isbi).toContain('Beside the paper');
  });

  it('without labelled evaluation images: no metrics, the predictions table and overlays of predicted points', async () => {
    const ids = ['tpl', 'a', 'b', 'c', 'd'];
    const pts = Object.fromEntries(ids.map((id, i) => [id, syntheticPoints(i, 3, NAMES.length).predictedYx]));
    const loaded: string[] = [];
    const base = await siteInput();
    const input = await buildRunReportInput({
      runId: 'site-run', createdAt: '2026-11-27T00:00:00Z', lineage: { ...base.lineage, testIdsCovered: {} },
      landmarkNames: NAMES, datasetKind: 'site',
      errors: [], gridSize: 384, predictionsYx: pts, truthYx: {},
      predictedImages: ids.map((id, i) => ({ id, split: 'train', xyPx: pts[id]!.map(([y, x]): [number, number] => [x * 2, y * 2]), spacingMm: i === 1 ? 0.5 : null })),
      displayAspect: () => 0.8,
      loadImage: async (id) => {
        loaded.push(id);
        return syntheticRadiograph(64, loaded.length);
      },
    });
    expect(loaded).toEqual(['a', 'b', 'c']); // the template is not one of the samples
    expect(input.overlays!.map((o) => o.case)).toEqual(['sample', 'sample', 'sample']);
    const html = await renderRunReport(input);
    expect(html).toContain('no metrics: no labelled evaluation images');
    expect(html).not.toContain('SDR vs radius');
    expect(html).not.toContain('Beside the paper');
    const table = html.slice(html.indexOf('<section id="predictions">'), html.indexOf('<section id="training">'));
    expect(table).toContain('5 images × 5 landmarks');
    for (const id of ids) expect(table).toContain(`<td>${id}`);
    for (const [k, name] of NAMES.entries()) expect(table).toContain(`${k + 1} ${name} (x, y px)`);
    const [ya, xa] = pts.a![0]!;
    expect(table).toContain(`${(xa * 2).toFixed(1)}, ${(ya * 2).toFixed(1)}<br><span class="small">${(xa * 2 * 0.5).toFixed(1)}, ${(ya * 2 * 0.5).toFixed(1)} mm</span>`);
    expect([...html.matchAll(/data-case="sample"/g)]).toHaveLength(3);
    expect(html).toContain('prediction (numbered)');
  });

  it('K = 1 and K = 30 render', async () => {
    for (const k of [1, 30]) {
      const names = Array.from({ length: k }, (_, i) => `P${i + 1}`);
      const images = syntheticErrors(2, 1, 3, k, k);
      const html = await renderRunReport(await siteInput({ landmarkNames: names, metrics: [{ protocol: 'A', sets: [{ split: 'eval', images }] }] }));
      expect(html).toContain(`<td>P${k}</td>`);
    }
  });
});
