import { describe, expect, it } from 'vitest';
import { ISBI_LANDMARK_NAMES, parseRunReportInput, pickOverlayCases, renderRunReport, sdrCurve, summarizeErrors, type RunReportInput } from '../../infra/report';
import { sdrPercent } from '../../ml/metrics';
import { compressIds, LOCAL_PATH_NOT_SHOWN } from '../../infra/report/render';
import { syntheticErrors, syntheticReportInput } from './fixture';

/** Text of the <td> cells of the overall metrics table row for `protocol` + `set`. */
function overallRow(html: string, protocolName: string, setLabel: string): string[] {
  const table = html.slice(html.indexOf('<section id="metrics">'), html.indexOf('<h3>Beside the paper</h3>'));
  const rows = table.split('<tr>').slice(1);
  const row = rows.find((r) => r.includes(protocolName) && r.includes(`<b>${setLabel}</b>`));
  if (!row) throw new Error(`no row for ${protocolName} ${setLabel}`);
  return [...row.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ''));
}

describe('report statistics', () => {
  it('SDR counts errors strictly below the radius', () => {
    // SDR is in percent everywhere (one unit with the stored metrics).
    expect(sdrPercent([1.99, 2, 2.01, 3], 2)).toBe(25);
    expect(sdrPercent([2, 2, 2, 2], 2)).toBe(0);
    const s = summarizeErrors([1, 2, 3, 4]);
    expect(s.mreMm).toBe(2.5);
    expect(s.sdMm).toBeCloseTo(Math.sqrt(1.25), 12);
    expect(s.sdr.get(2)).toBe(25);
    expect(s.sdr.get(4)).toBe(75);
    const curve = sdrCurve([2, 2, 4, 10], 10, 1);
    expect(curve.find((c) => c.r === 2)!.sdr).toBe(0);
    expect(curve.find((c) => c.r === 3)!.sdr).toBe(50);
    expect(curve.find((c) => c.r === 10)!.sdr).toBe(75);
  });

  it('picks best, median and worst image deterministically', () => {
    const images = [
      { id: 'c', errorsMm: [3, 3] },
      { id: 'a', errorsMm: [1, 1] },
      { id: 'd', errorsMm: [9, 9] },
      { id: 'b', errorsMm: [2, 2] },
    ];
    const c = pickOverlayCases(images);
    expect([c.best.id, c.median.id, c.worst.id]).toEqual(['a', 'b', 'd']);
  });

  it('compresses numeric ids into ranges', () => {
    expect(compressIds(['151', '152', '153', '155', '300'])).toBe('151–153, 155, 300');
  });
});

describe('renderRunReport', () => {
  it('renders exact numbers with strictly-below SDR, both protocols, per landmark', async () => {
    const base = await syntheticReportInput();
    // Hand-checkable errors: 4 images × 19 landmarks; half the errors are exactly 2.0 mm.
    const errs = (v: number[]) => Array.from({ length: 19 }, (_, k) => v[k % v.length]!);
    const images = [
      { id: '151', errorsMm: errs([2, 1]) },
      { id: '152', errorsMm: errs([2, 3]) },
      { id: '153', errorsMm: errs([2.5, 4]) },
      { id: '154', errorsMm: errs([0.5, 2]) },
      { id: '155', errorsMm: errs([12, 2]) },
    ];
    const all = images.flatMap((i) => i.errorsMm);
    const mre = all.reduce((s, e) => s + e, 0) / all.length;
    const below2 = all.filter((e) => e < 2).length / all.length;
    const below25 = all.filter((e) => e < 2.5).length / all.length;
    const input: RunReportInput = {
      ...base,
      metrics: [
        { protocol: 'A', sets: [{ split: 'test1', images }] },
        { protocol: 'B', sets: [{ split: 'test1', images: images.map((i) => ({ ...i, errorsMm: i.errorsMm.map((e) => e + 0.25) })) }] },
      ],
    };
    const html = await renderRunReport(input);
    const rowA = overallRow(html, 'Protocol A', 'Test1');
    // Protocol | Set | ids | images | errors | MRE | SD | median | SDR 2 | 2.5 | 3 | 4 | outliers > 10 mm
    expect(rowA[2]).toBe('151–155');
    expect(rowA[3]).toBe('5');
    expect(rowA[4]).toBe('95');
    expect(rowA[5]).toBe(mre.toFixed(2));
    expect(rowA[8]).toBe((below2 * 100).toFixed(2));
    expect(rowA[9]).toBe((below25 * 100).toFixed(2));
    // Outliers (> 10 mm): image 155's 12 mm errors, 10 of 95; the last column.
    expect(rowA.at(-1)).toBe(((100 * 10) / 95).toFixed(2));
    // The "≤" reading would give a different number here; make sure the fixture can tell them apart.
    expect((all.filter((e) => e <= 2).length / all.length).toFixed(4)).not.toBe(below2.toFixed(4));
    const rowB = overallRow(html, 'Protocol B', 'Test1');
    expect(rowB[5]).toBe((mre + 0.25).toFixed(2));
    for (const name of ISBI_LANDMARK_NAMES) expect(html).toContain(`<td>${name}</td>`);
    expect(html).toContain('strictly below');
  });

  it('is self-contained: no external URL, script, link or non-data image', async () => {
    const html = await renderRunReport(await syntheticReportInput());
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link/i);
    expect(html).not.toMatch(/<iframe|<object|<embed|@import/i);
    expect(html).not.toMatch(/url\(/i);
    const srcs = [...html.matchAll(/\s(?:src|href|xlink:href)="([^"]*)"/g)].map((m) => m[1]!);
    for (const s of srcs) expect(s.startsWith('data:image/') || s.startsWith('#')).toBe(true);
    expect(html).toContain("default-src 'none'");
    // Three overlays as JPEG data URIs; the page stays small.
    const imgs = [...html.matchAll(/<img src="data:image\/jpeg;base64,[A-Za-z0-9+/=]+"[^>]*data-case="(best|median|worst)"/g)].map((m) => m[1]);
    expect(imgs).toEqual(['best', 'median', 'worst']);
    expect(html.length).toBeLessThan(3_000_000);
    // Lineage items every report must name (docs/method.md#test-sets).
    for (const s of ['Template id', '125', 'JPEG', 'from scratch', 'Protocol A (paper, 384 grid)', 'Protocol B (clean, full resolution)', 'Test IDs covered', '151–300', 'abc1234', 'tensorflow', 'run=2022']) {
      expect(html).toContain(s);
    }
    // Charts are inline SVG.
    expect(html).toContain('SDR vs radius');
    expect(html).toContain('Stage I: self-supervised (SSL) loss');
    expect(html).toContain('Stage II: training on pseudo-labels (TPL) loss');
    expect(html).toContain('Pseudo-label error distribution (149 training images');
  });

  it('labels the paper numbers as a different test set on Test1 only, and as comparable on Test1+Test2', async () => {
    const t1 = await renderRunReport(await syntheticReportInput());
    expect(t1).toContain('Different test set.');
    expect(t1).toContain('2.72');
    expect(t1).toContain('49.81');
    expect(t1).toContain('58.73');
    expect(t1).toContain('68.18');
    expect(t1).toContain('81.01');
    const base = await syntheticReportInput();
    const both = await renderRunReport({
      ...base,
      metrics: [{ protocol: 'A', sets: [{ split: 'test1', images: syntheticErrors(150, 151, 2.5, 1) }, { split: 'test2', images: syntheticErrors(100, 301, 3, 2) }] }],
    });
    expect(both).not.toContain('Different test set.');
    // Test1+Test2 is derived as the union when both splits are present.
    const row = overallRow(both, 'Protocol A', 'Test1+Test2');
    expect(row[2]).toBe('151–400');
    expect(row[3]).toBe('250');
    expect(row[4]).toBe('4750');
  });

  it('shows the SSL stage (cascade matching only) beside the final model, both protocols, with the paper CC2D-SSL row', async () => {
    const base = await syntheticReportInput();
    const test1 = syntheticErrors(150, 151, 4, 7);
    const html = await renderRunReport({
      ...base,
      sslMetrics: [
        { protocol: 'A', sets: [{ split: 'test1', images: test1 }] },
        { protocol: 'B', sets: [{ split: 'test1', images: syntheticErrors(150, 151, 4.2, 8) }] },
      ],
    });
    const section = html.slice(html.indexOf('<h3>SSL stage (cascade matching only)</h3>'), html.indexOf('<h3>Beside the paper</h3>'));
    const rows = section.split('<tr>').slice(1).map((r) => [...r.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((m) => m[1]!.replace(/<[^>]+>/g, ''))).filter((r) => r.length > 0);
    const rowA = rows.find((r) => r[0]!.startsWith('Protocol A') && r[1] === 'Test1')!;
    expect(rowA[3]).toBe('150');
    expect(rowA[5]).toBe(summarizeErrors(test1.flatMap((i) => i.errorsMm)).mreMm.toFixed(2));
    expect(rows.some((r) => r[0]!.startsWith('Protocol B') && r[1] === 'Test1')).toBe(true);
    const paper = rows.find((r) => r[0]!.includes('CC2D-SSL only (no TPL)'))!;
    expect(paper[1]).toBe('Test1+Test2 different test set');
    expect([paper[5], paper[8], paper[11]]).toEqual(['4.67', '40.42', '68.38']);
    // A run without the SSL stage says so instead.
    expect(await renderRunReport(base)).toContain('The SSL stage alone was not evaluated in this run');
  });

  it('escapes everything that comes from the input', async () => {
    const base = await syntheticReportInput();
    const html = await renderRunReport({ ...base, runId: '<script>alert(1)</script>', lineage: { ...base.lineage, site: '"><img src=x onerror=alert(1)>' } });
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<img src=x');
  });

  it('the shareable HTML shows no local dataset folder (a hospital path may name patients or studies); the rest of the config stays', async () => {
    const base = await syntheticReportInput();
    const config = { config: { dataset: { dir: '/data/st-marys/patient-folders/smith-john' }, seed: 2022 }, profile: { name: 'smoke' } };
    const html = await renderRunReport({ ...base, lineage: { ...base.lineage, config } });
    expect(html).not.toContain('smith-john');
    expect(html).toContain(LOCAL_PATH_NOT_SHOWN);
    expect(html).toContain('&quot;seed&quot;: 2022');
    expect(config.config.dataset.dir).toBe('/data/st-marys/patient-folders/smith-john');
  });

  it('rejects malformed input naming the field', () => {
    expect(() => parseRunReportInput({ runId: 'x' })).toThrow(/report\.createdAt/);
    expect(() => parseRunReportInput({ runId: 'x', createdAt: 'now', lineage: {}, metrics: [] })).toThrow(/report\.lineage\.datasetVersion/);
  });

  it('says so when losses, pseudo-labels or overlays are missing', async () => {
    const base = await syntheticReportInput();
    const html = await renderRunReport({ ...base, losses: {}, pseudoLabels: undefined, overlays: [] });
    expect(html).toContain('no loss log was recorded');
    expect(html).toContain('pseudo-label quality was not measured');
    expect(html).toContain('No overlay images were supplied');
  });

  it('says how many pseudo-labels the refiner left out, and nothing without the limit', async () => {
    const base = await syntheticReportInput();
    const without = await renderRunReport(base);
    expect(without).not.toContain('class="left-out"');
    const html = await renderRunReport({ ...base, refineLeftOutLabels: { count: 1117, of: 2831, maxRoundTrip: 2 } });
    const note = html.slice(html.indexOf('<section id="pseudo">'), html.indexOf('<section id="overlays">'));
    expect(note).toContain('did not train on <b>1117 of 2831</b> pseudo-labels (39.5 %)');
    expect(note).toContain('more than 2 working-grid cells');
    expect(note).toContain('(profile <code>refine.maxRoundTrip</code>)');
    expect(note).toContain('The TPL stage trained on every pseudo-label (no <code>tpl.maxRoundTrip</code>).');
    expect(() => parseRunReportInput({ ...base, refineLeftOutLabels: { count: -1, of: 2, maxRoundTrip: 2 } })).toThrow(/refineLeftOutLabels\.count/);
    // Both stages filtered (profile tpl.maxRoundTrip too): one note each, none saying TPL saw every label.
    const both = await renderRunReport({ ...base, refineLeftOutLabels: { count: 1117, of: 2831, maxRoundTrip: 2 }, tplLeftOutLabels: { count: 1130, of: 2850, maxRoundTrip: 3 } });
    const notes = both.slice(both.indexOf('<section id="pseudo">'), both.indexOf('<section id="overlays">'));
    expect(notes).toContain('The TPL stage did not train on <b>1130 of 2850</b> pseudo-labels (39.6 %)');
    expect(notes).toContain('more than 3 working-grid cells from the template’s landmark (profile <code>tpl.maxRoundTrip</code>)');
    expect(notes).toContain('The refinement stage did not train on <b>1117 of 2831</b>');
    expect(notes).not.toContain('trained on every pseudo-label');
    expect(() => parseRunReportInput({ ...base, tplLeftOutLabels: { count: 1, of: 2 } })).toThrow(/tplLeftOutLabels\.maxRoundTrip/);
  });
});
