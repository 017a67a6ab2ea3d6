import { describe, expect, it } from 'vitest';
import { scoreTestPredictions, sdrPercent, testSetSpecs } from '../../../ml/metrics';
import type { PointYX } from '../../../ml/types';

describe('sdrPercent', () => {
  it('is the percent of errors strictly below the radius, NaN for none', () => {
    expect(sdrPercent([1, 2, 3, 4], 3)).toBe(50);
    expect(sdrPercent([], 2)).toBeNaN();
  });
});

describe('scoreTestPredictions', () => {
  // 100×100 px images on a 10×10 grid, 1 mm per pixel: a grid cell is 10 mm.
  const image = { heightPx: 100, widthPx: 100, spacingMm: 1, gtMeanXyPx: [[50, 50]] as Array<[number, number]> };
  const labels = { images: { a: image, b: image, c: image } };
  const predicted = new Map<string, PointYX[]>([['a', [[5, 5]]], ['b', [[5, 5]]], ['c', [[6, 5]]]]);

  it('scores each split and their union under both protocols, SDR in percent', () => {
    const s = scoreTestPredictions({ labels, predicted, testSplits: { test1: ['a', 'b'], test2: ['c'] }, gridSize: 10 });
    expect(s.headlineSet).toBe('test1+test2');
    expect(Object.keys(s.summary)).toEqual(['A', 'B']);
    expect(s.summary.A!.test1).toEqual({ images: 2, mreMm: 0, sdMm: 0, sdr: { '2': 100, '2.5': 100, '3': 100, '4': 100 }, outlierPercent: 0 });
    expect(s.summary.A!['test1+test2']!.mreMm).toBeCloseTo(10 / 3, 12);
    expect(s.summary.A!['test1+test2']!.sdr['2']).toBeCloseTo(200 / 3, 12);
    // Image c is off by exactly 10 mm: not an outlier (strictly above 10 mm counts).
    expect(s.summary.A!['test1+test2']!.outlierPercent).toBe(0);
    // Per-image errors are kept for the splits themselves, not the union.
    expect(Object.keys(s.errors[0]!.sets)).toEqual(['test1', 'test2']);
    expect(testSetSpecs({ test1: ['a'] })).toEqual([{ name: 'test1', ids: ['a'] }]);
  });
});

describe('scoring units', () => {
  const at = (spacingMm: number | null) => ({ heightPx: 100, widthPx: 100, spacingMm, gtMeanXyPx: [[50, 50]] as Array<[number, number]> });
  const predicted = new Map<string, PointYX[]>([['a', [[6, 5]]], ['b', [[6, 5]]]]);

  it('uses each image\'s own spacing (mm) when every scored image has one', () => {
    const s = scoreTestPredictions({ labels: { images: { a: at(0.5), b: at(2) } }, predicted, testSplits: { eval: ['a', 'b'] }, gridSize: 10 });
    expect(s.unit).toBe('mm');
    // Protocol B: the cell centre (55, 65) px vs truth (50, 50) px → 15.81 px; × 0.5 and × 2 mm.
    const errs = s.errors.find((e) => e.protocol === 'B')!.sets.eval!.map((e) => e.errorsMm[0]!);
    expect(errs[0]! * 4).toBeCloseTo(errs[1]!, 9);
    // 15.81 px × 2 mm = 31.6 mm > 10 mm: one of the two errors is an outlier.
    expect(s.summary.B!.eval!.outlierPercent).toBe(50);
  });

  it('falls back to pixels for all when one scored image has no spacing, and says so', () => {
    const s = scoreTestPredictions({ labels: { images: { a: at(0.5), b: at(null) } }, predicted, testSplits: { eval: ['a', 'b'] }, gridSize: 10 });
    expect(s.unit).toBe('px');
    const errs = s.errors.find((e) => e.protocol === 'B')!.sets.eval!.map((e) => e.errorsMm[0]!);
    expect(errs[0]).toBeCloseTo(errs[1]!, 9);
    // 15.81 px errors, but outliers are a mm notion: none stored in px.
    expect(s.summary.B!.eval).not.toHaveProperty('outlierPercent');
  });

  it('refuses to score an image without ground truth', () => {
    const labels = { images: { a: { heightPx: 100, widthPx: 100, spacingMm: 1 } } };
    expect(() => scoreTestPredictions({ labels, predicted, testSplits: { eval: ['a'] }, gridSize: 10 })).toThrow(/"a" has no ground truth/);
  });
});
