/** Comparing two runs (pure): config diff, metrics per stage/protocol/split/landmark with deltas, SDR curves. */
import { describe, expect, it } from 'vitest';
import { formatComparison } from '../../cli/commands/compare';
import { renderComparePage } from '../../infra/dashboard/views';
import { compareRuns, diffJson, snapshotOf, ComparableReportSchema, type RunSnapshot } from '../../infra/compare';
import { sdrPercent } from '../../ml/metrics';

function snapshot(over: Partial<RunSnapshot> & { finalA?: number[][]; sslA?: number[][] } = {}): RunSnapshot {
  const finalA = over.finalA ?? [[1, 3], [2, 4]];
  const images = (rows: number[][]) => rows.map((errorsMm, i) => ({ id: `00${i + 1}`, errorsMm }));
  return {
    runId: 'run-a', datasetVersion: 'd'.repeat(64), templateId: '002', unit: 'mm', protocolB: 'cell-centre', landmarkNames: ['Sella', 'Nasion'],
    config: { config: { seed: 2022, site: 'isbi', overrides: {} }, profile: { name: 'smoke', ssl: { steps: 12, lr: 0.001 } } },
    headline: { mre: 2.5, set: 'test1' },
    errors: {
      final: [{ protocol: 'A', sets: { test1: images(finalA) } }, { protocol: 'B', sets: { test1: images(finalA.map((r) => r.map((e) => e + 0.5))) } }],
      ...(over.sslA ? { ssl: [{ protocol: 'A', sets: { test1: images(over.sslA) } }] } : {}),
    },
    ...over,
  };
}

describe('config diff', () => {
  it('lists changed, added and removed leaves by dotted path; arrays compare whole', () => {
    expect(diffJson({ a: 1, n: { x: [1, 2], y: 'k' } }, { a: 1, n: { x: [1, 3], z: true } })).toEqual([
      { path: 'n.x', a: [1, 2], b: [1, 3] },
      { path: 'n.y', a: 'k' },
      { path: 'n.z', b: true },
    ]);
    expect(diffJson({ a: { b: 1 } }, { a: { b: 1 } })).toEqual([]);
  });

  it("names the changed config field and the profile field it resolves to", () => {
    const a = snapshot();
    const b = snapshot({
      runId: 'run-b',
      config: { config: { seed: 7, site: 'isbi', overrides: { ssl: { steps: 40 } } }, profile: { name: 'smoke', ssl: { steps: 40, lr: 0.001 } } },
    });
    const c = compareRuns(a, b);
    expect(c.configChanges).toEqual([
      { path: 'config.overrides.ssl', b: { steps: 40 } },
      { path: 'config.seed', a: 2022, b: 7 },
      { path: 'profile.ssl.steps', a: 12, b: 40 },
    ]);
    expect(c.notes).toEqual([]);
    const text = formatComparison(c);
    expect(text).toContain('config.seed');
    expect(text).toMatch(/profile\.ssl\.steps\s+12 → 40/);
  });
});

describe('metrics side by side', () => {
  it('derives MRE, SD, SDRs and per-landmark MRE from the errors, with deltas b − a', () => {
    const a = snapshot({ finalA: [[1, 3], [2, 4]] });
    const b = snapshot({ runId: 'run-b', finalA: [[1, 1], [2, 2]], landmarkNames: ['Sella', 'Nasion'] });
    const c = compareRuns(a, b);
    expect(c.sets.map((s) => `${s.stage} ${s.protocol} ${s.split}`)).toEqual(['final A test1', 'final B test1']);
    const s = c.sets[0]!;
    expect(s.images).toEqual({ a: 2, b: 2 });
    expect(s.mre).toEqual({ a: 2.5, b: 1.5, delta: -1 });
    expect(s.sdr['2']).toEqual({ a: 25, b: 50, delta: 25 });
    expect(s.sdr['4']).toEqual({ a: 75, b: 100, delta: 25 });
    // The text lists the SDR columns by radius (Object.entries would put 2.5 after 4).
    const line = formatComparison(c).split('\n').find((l) => l.trimStart().startsWith('final (TPL) A '))!;
    expect([...line.matchAll(/SDR<([\d.]+)/g)].map((m) => m[1])).toEqual(['2', '2.5', '3', '4']);
    expect(s.landmarks).toEqual([
      { name: 'Sella', a: 1.5, b: 1.5, delta: 0 },
      { name: 'Nasion', a: 3.5, b: 1.5, delta: -2 },
    ]);
    // Curves: the SDR at each radius, for both runs.
    const curve = c.curves[0]!;
    expect(curve.radii[0]).toBe(0);
    expect(curve.radii.at(-1)).toBe(10);
    const i = curve.radii.indexOf(3.5);
    expect(curve.a![i]).toBe(sdrPercent([1, 3, 2, 4], 3.5));
    expect(curve.b![i]).toBe(100);
  });

  it('gives no deltas between a run in mm and one in px, and says why', () => {
    const c = compareRuns(snapshot(), snapshot({ runId: 'run-px', unit: 'px', finalA: [[10, 30], [20, 40]] }));
    const s = c.sets[0]!;
    expect(s.mre).toEqual({ a: 2.5, b: 25, delta: null });
    expect(s.landmarks.every((l) => l.delta === null)).toBe(true);
    expect(Object.values(s.sdr).every((p) => p.delta === null)).toBe(true);
    expect(c.notes).toContain('run run-a reports errors in mm, run run-px in px: no deltas (they would mix units)');
    expect(formatComparison(c)).not.toMatch(/\+22\.5/);
  });

  it('runs that scored different images also compare on the images both scored (as the promotion gate does)', () => {
    // b scored a third image (a later dataset version of the site); images 001-002 are shared.
    const c = compareRuns(snapshot(), snapshot({ runId: 'run-b', datasetVersion: 'e'.repeat(64), finalA: [[1, 1], [2, 2], [30, 30]] }));
    const s = c.sets.find((x) => x.stage === 'final' && x.protocol === 'A')!;
    expect(s.images).toEqual({ a: 2, b: 3 });
    expect(s.mre.delta).toBeCloseTo(11 - 2.5, 9);
    expect(s.common).toEqual({ images: 2, mre: { a: 2.5, b: 1.5, delta: -1 } });
    expect(formatComparison(c)).toMatch(/on the 2 images both scored: MRE 2\.500 → 1\.500 \(−1\.000\)/);
    expect(renderComparePage(c)).toMatch(/on the 2 image\(s\) both scored, MRE 2\.500 → 1\.500 \(−1\.000\)/);
    // The same images: nothing extra.
    expect(compareRuns(snapshot(), snapshot({ runId: 'run-c' })).sets[0]!.common).toBeUndefined();
  });

  it('says when one run scored protocol B with the cell corners (before 2026-12-03) and the other with the centres', () => {
    const c = compareRuns(snapshot({ runId: 'run-old', protocolB: 'corner' }), snapshot({ runId: 'run-new' }));
    expect(c.notes).toEqual([expect.stringMatching(/^protocol B: run run-old was scored before grid points were mapped to the centre of their cell/)]);
    expect(compareRuns(snapshot(), snapshot({ runId: 'run-b' })).notes).toEqual([]);
  });

  it('keeps sets only one run has (null on the other side), the SSL stage, and matches landmarks by name', () => {
    const a = snapshot({ sslA: [[5, 5], [6, 6]] });
    const b = snapshot({ runId: 'run-b', landmarkNames: ['Nasion', 'Sella'], finalA: [[3, 1], [4, 2]], datasetVersion: 'e'.repeat(64) });
    const c = compareRuns(a, b);
    const ssl = c.sets.find((s) => s.stage === 'ssl')!;
    expect(ssl.mre).toEqual({ a: 5.5, b: null, delta: null });
    expect(c.curves.find((x) => x.stage === 'ssl')!.b).toBeNull();
    // Same errors per name, in another point order: no landmark delta.
    expect(c.sets[0]!.landmarks.map((l) => l.delta)).toEqual([0, 0]);
    expect(c.notes.join(' ')).toMatch(/different dataset versions/);
    expect(c.notes.join(' ')).toMatch(/different landmark sets/);
    expect(c.configChanges).toContainEqual({ path: 'lineage.datasetVersion', a: 'd'.repeat(64), b: 'e'.repeat(64) });
  });

  it('adds the Test1+Test2 union as the report does', () => {
    const a = snapshot();
    a.errors.final = [{ protocol: 'A', sets: { test1: [{ id: '151', errorsMm: [1] }], test2: [{ id: '301', errorsMm: [3] }] } }];
    const c = compareRuns(a, a);
    expect(c.sets.map((s) => s.split)).toEqual(['test1', 'test2', 'test1+test2']);
    expect(c.sets[2]!.mre).toEqual({ a: 2, b: 2, delta: 0 });
  });
});

describe('snapshot of a stored report', () => {
  it('reads config, unit, names and both stages\' errors; a run without metrics has none', () => {
    const report = ComparableReportSchema.parse({
      format: 'cc2d-run-report-v1', runId: 'r1', createdAt: '2026-01-01T00:00:00Z',
      lineage: { datasetVersion: 'v', templateId: '002', site: 's', profile: 'smoke', config: { config: { seed: 1 }, profile: { name: 'smoke' } } },
      dataset: { landmarkNames: ['P1'] },
      evaluation: {
        headline: { mreMm: 3.5, set: 'eval', unit: 'px' },
        detail: {
          format: 'cc2d-metrics-v1', gridSize: 64, pixelSpacingMm: null, unit: 'px', templateId: '002', protocols: {},
          errors: [{ protocol: 'A', sets: { eval: [{ id: 'e1', errorsMm: [3.5] }] } }],
          sslStage: { stage: 'ssl', weights: { key: 'k', sha256: 's' }, templateId: '002', headlineSet: 'eval', summary: {}, protocols: {}, errors: [{ protocol: 'A', sets: { eval: [{ id: 'e1', errorsMm: [4] }] } }] },
        },
      },
    });
    const s = snapshotOf(report);
    expect(s).toMatchObject({ runId: 'r1', unit: 'px', protocolB: 'corner', headline: { mre: 3.5, set: 'eval' }, landmarkNames: ['P1'], config: { config: { seed: 1 } } });
    expect(s.errors.ssl![0]!.sets.eval![0]!.errorsMm).toEqual([4]);
    const none = snapshotOf(ComparableReportSchema.parse({
      format: 'cc2d-run-report-v1', runId: 'r2',
      lineage: { datasetVersion: 'v', templateId: '002', config: { config: {}, profile: {} } },
      evaluation: { noMetrics: 'no labelled evaluation image' },
    }));
    expect(none.errors).toEqual({ final: [] });
    expect(compareRuns(s, none).notes).toContain('run r2 has no metrics: no labelled evaluation image');
  });
});
