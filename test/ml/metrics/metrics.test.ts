import { describe, expect, it } from 'vitest';
import {
  errorStats, evaluateBySplit, evaluateLandmarks, gridToOriginalXy, isbiTestSplits, meanOfDoctors, protocolATruth, radialErrorsMm,
  type LandmarkEvalCase,
} from '../../../ml/metrics';

const ISBI = { originalHeight: 2400, originalWidth: 1935 };

describe('protocol A (paper, 384 grid)', () => {
  it('truth is doubly truncated: int(int(m)·S/H)', () => {
    // m_y = 1029.5 → 1029 → 1029·384/2400 = 164.64 → 164; m_x = 1473 → 1473·384/1935 = 292.3… → 292.
    expect(protocolATruth([1029.5, 1473], 2400, 1935, 384)).toEqual([164, 292]);
    // The first truncation matters: 2399.9 → 2399 → 383.84 → 383 (not 384).
    expect(protocolATruth([2399.9, 1934.99], 2400, 1935, 384)).toEqual([383, 383]);
  });

  it('0.625 mm per row and 0.50390625 mm per column at ISBI sizes', () => {
    const c: LandmarkEvalCase = { id: '151', predicted: [[166, 295], [164, 292]], truth: [[1029.5, 1473], [1029.5, 1473]], ...ISBI };
    const [e0, e1] = radialErrorsMm(c, { protocol: 'A', gridSize: 384 });
    // Δ = (2, 3) cells → sqrt((2·0.625)² + (3·0.50390625)²) = sqrt(1.5625 + 2.2852935791015625).
    expect(e0).toBeCloseTo(Math.sqrt(3.8477935791015625), 12);
    expect(e1).toBe(0);
  });
});

describe('protocol B (clean, original pixels)', () => {
  it('maps the prediction back unrounded to the centre of its cell and compares with the untruncated mean', () => {
    const c: LandmarkEvalCase = { id: '151', predicted: [[164, 292]], truth: [[1029.5, 1473]], ...ISBI };
    // (164.5·2400/384, 292.5·1935/384) = (1028.125, 1473.92578125) → Δ = (−1.375, 0.92578125) px.
    expect(radialErrorsMm(c, { protocol: 'B', gridSize: 384 })[0]).toBeCloseTo(0.1 * Math.sqrt(1.890625 + 0.8570709228515625), 12);
    // The cell's top-left corner (164·2400/384, 292·1935/384) would be 0.48 mm off instead of 0.17.
    expect(gridToOriginalXy([164, 292], 2400, 1935, 384)).toEqual([1473.92578125, 1028.125]);
  });

  it('a landmark mapped onto the grid (int(x·S/W)) and back lands within half a cell of itself', () => {
    // Cell j stands for [j·W/S, (j+1)·W/S): its centre is at most half a cell from any point in it.
    for (const [x, W, S] of [[0, 1935, 192], [1934.5, 1935, 192], [1029.5, 2400, 64], [7, 40, 64]] as const) {
      const j = Math.trunc((x * S) / W);
      const [back] = gridToOriginalXy([0, j], 1, W, S);
      expect(Math.abs(back - x)).toBeLessThanOrEqual((0.5 * W) / S);
    }
  });

  it('uses the per-case spacing when given', () => {
    const c: LandmarkEvalCase = { id: 'h1', predicted: [[10, 10]], truth: [[0.5, 0.5]], originalHeight: 100, originalWidth: 100, spacingMm: 0.5 };
    // (10, 10) cells at S = 100 = (10.5, 10.5) px → Δ (10, 10) px → 0.5·sqrt(200).
    expect(radialErrorsMm(c, { protocol: 'B', gridSize: 100, spacingMm: 0.1 })[0]).toBeCloseTo(0.5 * Math.sqrt(200), 12);
  });
});

describe('SDR counts errors STRICTLY below the radius', () => {
  it('an error of exactly 2.0 mm is not counted at 2 mm but is at 2.5 mm (protocol B)', () => {
    // S = 100, H = W = 1000: cell 10 → 105 px (its centre); truth at 85 px → 20 px · 0.1 = 2.0 mm exactly.
    const c: LandmarkEvalCase = { id: '151', predicted: [[10, 10]], truth: [[85, 105]], originalHeight: 1000, originalWidth: 1000 };
    const r = evaluateLandmarks([c], { protocol: 'B', gridSize: 100 });
    expect(r.errors[0]![0]).toBe(2);
    expect(r.overall.sdr.map((s) => [s.radiusMm, s.percent])).toEqual([[2, 0], [2.5, 100], [3, 100], [4, 100]]);
  });

  it('the same with protocol A: 4 cells at 0.5 mm per cell = 2.0 mm', () => {
    // S = 64, H = W = 320, spacing 0.1 → (0.1·320)/64 = 0.5 mm per cell exactly.
    const c: LandmarkEvalCase = { id: '151', predicted: [[14, 10]], truth: [[50, 50]], originalHeight: 320, originalWidth: 320 };
    const r = evaluateLandmarks([c], { protocol: 'A', gridSize: 64 });
    expect(r.errors[0]![0]).toBe(2);
    expect(r.overall.sdr[0]).toEqual({ radiusMm: 2, count: 0, percent: 0 });
    expect(r.overall.sdr[1]).toEqual({ radiusMm: 2.5, count: 1, percent: 100 });
  });
});

describe('errorStats', () => {
  it('MRE, population std, max and SDR on a hand-made list', () => {
    const s = errorStats([1, 2, 3, 6]);
    expect(s.n).toBe(4);
    expect(s.mreMm).toBe(3);
    // deviations −2, −1, 0, 3 → (4 + 1 + 0 + 9)/4 = 3.5
    expect(s.stdMm).toBeCloseTo(Math.sqrt(3.5), 12);
    expect(s.maxMm).toBe(6);
    expect(s.sdr.map((e) => e.percent)).toEqual([25, 50, 50, 75]);
  });

  it('outliers are the errors strictly above 10 mm, in percent', () => {
    // 10.0 exactly is not an outlier; 10.01 and 25 are: 2 of 5.
    expect(errorStats([1, 10, 10.01, 25, 3]).outlierPercent).toBe(40);
    expect(errorStats([1, 2]).outlierPercent).toBe(0);
    expect(errorStats([]).outlierPercent).toBeNaN();
  });

  it('empty input gives NaN statistics, negative errors are rejected', () => {
    expect(errorStats([]).mreMm).toBeNaN();
    expect(() => errorStats([1, -1])).toThrow(/non-negative/);
  });
});

describe('evaluateLandmarks', () => {
  it('overall and per-landmark statistics over images', () => {
    const grid = { originalHeight: 1000, originalWidth: 1000 };
    // S = 100 → 1 cell = 10 px = 1 mm (protocol B); truth at cell 0's centre (5, 5) px. Landmark 0 errors 1 and 3 mm; landmark 1: 0 and 5 mm.
    const c0: [number, number] = [5, 5];
    const cases: LandmarkEvalCase[] = [
      { id: '151', predicted: [[1, 0], [0, 0]], truth: [c0, c0], ...grid },
      { id: '152', predicted: [[3, 0], [3, 4]], truth: [c0, c0], ...grid },
    ];
    const r = evaluateLandmarks(cases, { protocol: 'B', gridSize: 100 });
    expect(r.errors).toEqual([[1, 0], [3, 5]]);
    expect(r.overall.mreMm).toBe(2.25);
    expect(r.perLandmark.map((s) => s.mreMm)).toEqual([2, 2.5]);
    expect(r.perLandmark[1]!.sdr.map((e) => e.count)).toEqual([1, 1, 1, 1]);
    expect(r.imageIds).toEqual(['151', '152']);
    expect(() => evaluateLandmarks([cases[0]!, cases[0]!], { protocol: 'B', gridSize: 100 })).toThrow(/appears twice/);
    expect(() => evaluateLandmarks([{ ...cases[0]!, predicted: [[1, 0]] }], { protocol: 'A', gridSize: 100 })).toThrow(/1 predicted vs 2 true/);
  });

  it('meanOfDoctors keeps the half pixel', () => {
    expect(meanOfDoctors([[1, 2]], [[2, 4]])).toEqual([[1.5, 3]]);
  });
});

describe('evaluateBySplit', () => {
  it('reports Test1, Test2 and Test1+Test2 on the ids present, with covered and missing ids', () => {
    const grid = { originalHeight: 1000, originalWidth: 1000 };
    const mk = (id: string, errCells: number): LandmarkEvalCase => ({ id, predicted: [[errCells, 0]], truth: [[5, 5]], ...grid });
    const cases = [mk('151', 1), mk('152', 3), mk('301', 5), mk('007', 0)];
    const r = evaluateBySplit(cases, isbiTestSplits(), { protocol: 'B', gridSize: 100 });
    const [t1, t2, both] = r.splits;
    expect(t1!.split).toBe('Test1');
    expect(t1!.requestedCount).toBe(150);
    expect(t1!.coveredIds).toEqual(['151', '152']);
    expect(t1!.missingIds).toHaveLength(148);
    expect(t1!.report!.overall.mreMm).toBe(2);
    expect(t2!.coveredIds).toEqual(['301']);
    expect(t2!.report!.overall.mreMm).toBe(5);
    expect(both!.split).toBe('Test1+Test2');
    expect(both!.coveredIds).toEqual(['151', '152', '301']);
    expect(both!.report!.overall.mreMm).toBe(3);
    expect(r.unassignedIds).toEqual(['007']);
  });

  it('a split with no image present has a null report (Test2 on the project copy)', () => {
    const c: LandmarkEvalCase = { id: '151', predicted: [[0, 0]], truth: [[0, 0]], originalHeight: 10, originalWidth: 10 };
    const r = evaluateBySplit([c], isbiTestSplits(), { protocol: 'A', gridSize: 10 });
    expect(r.splits[1]!.report).toBeNull();
    expect(r.splits[1]!.missingIds).toHaveLength(100);
  });
});
