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
  const image = { heightPx: 100, widthPx: 100, gtMeanXyPx: [[50, 50]] as Array<[number, number]> };
  const labels = { images: { a: image, b: image, c: image } };
  const predicted = new Map<string, PointYX[]>([['a', [[5, 5]]], ['b', [[5, 5]]], ['c', [[6, 5]]]]);

  it('scores each split and their union under both protocols, SDR in percent', () => {
    const s = scoreTestPredictions({ labels, predicted, testSplits: { test1: ['a', 'b'], test2: ['c'] }, gridSize: 10, spacingMm: 1 });
    expect(s.headlineSet).toBe('test1+test2');
    expect(Object.keys(s.summary)).toEqual(['A', 'B']);
    expect(s.summary.A!.test1).toEqual({ images: 2, mreMm: 0, sdMm: 0, sdr: { '2': 100, '2.5': 100, '3': 100, '4': 100 } });
    expect(s.summary.A!['test1+test2']!.mreMm).toBeCloseTo(10 / 3, 12);
    expect(s.summary.A!['test1+test2']!.sdr['2']).toBeCloseTo(200 / 3, 12);
    // Per-image errors are kept for the splits themselves, not the union.
    expect(Object.keys(s.errors[0]!.sets)).toEqual(['test1', 'test2']);
    expect(testSetSpecs({ test1: ['a'] })).toEqual([{ name: 'test1', ids: ['a'] }]);
  });
});
