// The pipeline tests' accuracy gate (support/accuracy.ts) without servers: its MRE agrees with
// ml/metrics, and trivial predictors - (0, 0) everywhere, the template's points everywhere - fail it.
import { describe, expect, it } from 'vitest';
import { evaluateLandmarks } from '../../ml/metrics';
import { Prng } from '../../ml/core/prng';
import type { PointYX } from '../../ml/types';
import { accuracyGateFailures, meanRadialErrorMm, type GateBaseline, type GateImage } from './support/accuracy';

const GRID = { gridSize: 64, spacingMm: 0.1 };
const H = 240;
const W = 194;
const K = 19;
const prng = Prng.fromSeed(11);
const rand = (n: number) => Math.floor(prng.next() * n);

/** Truth per image ([x, y] original px, half pixels like the doctors' mean) and the template's grid cells. */
const truths = Array.from({ length: 4 }, () => Array.from({ length: K }, () => [rand(W * 2) / 2, rand(H * 2) / 2] as [number, number]));
const toCell = ([x, y]: readonly [number, number]): [number, number] => [Math.floor((Math.floor(y) * GRID.gridSize) / H), Math.floor((Math.floor(x) * GRID.gridSize) / W)];
const templateCells = truths[0]!.map(toCell);
const images = (predict: (truth: Array<[number, number]>) => Array<[number, number]>): GateImage[] =>
  truths.slice(1).map((t) => ({ predictedYx: predict(t), truthMeanXy: t, heightPx: H, widthPx: W }));

const near = images((t) => t.map((p) => {
  const [y, x] = toCell(p);
  return [y + rand(3) - 1, x + rand(3) - 1];
}));
const templateCopy = images(() => templateCells);
const origin = images(() => templateCells.map(() => [0, 0]));
const baselinesOf = (protocol: 'A' | 'B'): GateBaseline[] => [
  { name: 'template copy', mreMm: meanRadialErrorMm(templateCopy, protocol, GRID), maxRatio: 0.8 },
  { name: 'origin', mreMm: meanRadialErrorMm(origin, protocol, GRID), maxRatio: 0.5 },
];

describe('accuracy gate', () => {
  it('computes the same MRE as ml/metrics under both protocols', () => {
    for (const protocol of ['A', 'B'] as const) {
      for (const set of [near, templateCopy, origin]) {
        const reference = evaluateLandmarks(set.map((img, i) => ({
          id: String(i), predicted: img.predictedYx.map(([y, x]) => [y, x] as PointYX),
          truth: img.truthMeanXy.map(([x, y]) => [y, x] as PointYX), originalHeight: H, originalWidth: W,
        })), { protocol, ...GRID });
        expect(meanRadialErrorMm(set, protocol, GRID)).toBeCloseTo(reference.overall.mreMm, 9);
      }
    }
  });

  it('passes predictions near the truth and fails (0, 0) and the template points, naming the numbers', () => {
    for (const protocol of ['A', 'B'] as const) {
      const baselines = baselinesOf(protocol);
      expect(accuracyGateFailures(meanRadialErrorMm(near, protocol, GRID), baselines)).toEqual([]);
      const zero = accuracyGateFailures(meanRadialErrorMm(origin, protocol, GRID), baselines);
      expect(zero).toHaveLength(2);
      expect(zero[0]).toMatch(/^model MRE \d+\.\d{3} mm is not below 0\.8 × template copy \(\d+\.\d{3} mm\) = \d+\.\d{3} mm$/);
      expect(accuracyGateFailures(meanRadialErrorMm(templateCopy, protocol, GRID), baselines)).toEqual(expect.arrayContaining([expect.stringContaining('× template copy')]));
    }
  });

  it('fails a model whose MRE is not a finite number', () => {
    expect(accuracyGateFailures(Number.NaN, baselinesOf('A'))).toEqual(['model MRE is NaN, not a finite number']);
  });
});
