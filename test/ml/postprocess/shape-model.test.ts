import { describe, expect, it } from 'vitest';
import { Prng } from '../../../ml/core/prng';
import { alignSimilarity, applySimilarity, buildShapeModel, fitShapeModel, symmetricEigen } from '../../../ml/postprocess';
import type { PointYX } from '../../../ml/types';

const BASE: PointYX[] = [[10, 10], [10, 50], [30, 60], [50, 50], [55, 30], [50, 10], [30, 5], [30, 30]];

/** A shape of the family: BASE stretched along x by `a`, rotated, scaled, shifted, plus noise. */
function member(prng: Prng, a: number, noise = 0.3): PointYX[] {
  const ang = (prng.next() - 0.5) * 0.2;
  const s = 0.9 + 0.2 * prng.next();
  const ty = 60 + 10 * prng.next();
  const tx = 60 + 10 * prng.next();
  return BASE.map(([y, x]) => {
    const xx = 30 + (x - 30) * a;
    const yy = y - 30;
    return [ty + s * (Math.cos(ang) * yy + Math.sin(ang) * (xx - 30)) + noise * (prng.next() - 0.5), tx + s * (Math.cos(ang) * (xx - 30) - Math.sin(ang) * yy) + noise * (prng.next() - 0.5)];
  });
}

function family(seed: number, n: number, grossEvery = 0): PointYX[][] {
  const prng = Prng.fromSeed(seed);
  return Array.from({ length: n }, (_, i) => {
    const s = member(prng, 0.8 + 0.4 * prng.next());
    if (grossEvery && i % grossEvery === 0) s[i % BASE.length] = [s[i % BASE.length]![0] + 25, s[i % BASE.length]![1] - 20];
    return s;
  });
}

describe('shape model: algebra', () => {
  it('symmetricEigen returns descending eigenpairs', () => {
    const { values, vectors } = symmetricEigen([[2, 1, 0], [1, 2, 0], [0, 0, 5]]);
    expect(values.map((v) => Number(v.toFixed(9)))).toEqual([5, 3, 1]);
    expect(Math.abs(vectors[1]![0]!)).toBeCloseTo(Math.SQRT1_2, 9);
    expect(vectors[1]![0]! * vectors[1]![1]!).toBeGreaterThan(0);
  });

  it('alignSimilarity recovers a rotation, scale and shift exactly', () => {
    const ang = 0.3;
    const to = BASE.map(([y, x]): PointYX => [5 + 2 * (Math.cos(ang) * y + Math.sin(ang) * x), -7 + 2 * (Math.cos(ang) * x - Math.sin(ang) * y)]);
    const t = alignSimilarity(BASE, to, BASE.map(() => 1));
    BASE.forEach((p, k) => {
      const q = applySimilarity(t, p);
      expect(q[0]).toBeCloseTo(to[k]![0], 9);
      expect(q[1]).toBeCloseTo(to[k]![1], 9);
    });
  });
});

describe('shape model: build and fit', () => {
  it('learns the one mode of variation despite gross errors in the training shapes', () => {
    const model = buildShapeModel(family(1, 60, 5), { varianceKept: 0.9, maxModes: 6, trimFraction: 0.1 });
    expect(model.landmarkCount).toBe(BASE.length);
    expect(model.shapesUsed).toBe(54);
    expect(model.modes.length).toBe(1);
    expect(model.variances[0]!).toBeGreaterThan(50 * model.noiseVariance);
  });

  it('replaces a gross error and leaves the other landmarks untouched', () => {
    const model = buildShapeModel(family(2, 60, 5), { varianceKept: 0.95, maxModes: 6, trimFraction: 0.1 });
    const truth = member(Prng.fromSeed(9), 1.15, 0);
    const pred = truth.map(([y, x]): PointYX => [Math.round(y), Math.round(x)]);
    pred[2] = [pred[2]![0] + 20, pred[2]![1] + 15];
    const fit = fitShapeModel(model, pred, pred.map(() => 1), { replaceResidual: 5, maxSd: 3, iterations: 10 });
    expect(fit.replaced).toEqual(BASE.map((_, k) => k === 2));
    expect(Math.hypot(fit.landmarks[2]![0] - truth[2]![0], fit.landmarks[2]![1] - truth[2]![1])).toBeLessThan(3);
    pred.forEach((p, k) => { if (k !== 2) expect(fit.landmarks[k]).toEqual(p); });
  });

  it('a low confidence lets the shape override a landmark that is less far off', () => {
    const model = buildShapeModel(family(3, 40), { varianceKept: 0.95, maxModes: 6, trimFraction: 0 });
    const truth = member(Prng.fromSeed(5), 1, 0);
    const pred = truth.map(([y, x]): PointYX => [y, x]);
    pred[0] = [pred[0]![0] + 8, pred[0]![1]];
    const conf = pred.map((_, k) => (k === 0 ? 0.01 : 1));
    const fit = fitShapeModel(model, pred, conf, { replaceResidual: 5, maxSd: 3, iterations: 10 });
    expect(fit.replaced[0]).toBe(true);
    expect(fit.residual.slice(1).every((r) => r < 2)).toBe(true);
  });

  it('rejects mismatched inputs', () => {
    expect(() => buildShapeModel([BASE], { varianceKept: 0.9, maxModes: 2, trimFraction: 0 })).toThrow(/at least 2 shapes/);
    expect(() => buildShapeModel([BASE, BASE.slice(1)], { varianceKept: 0.9, maxModes: 2, trimFraction: 0 })).toThrow(/shape 1 has 7/);
    const model = buildShapeModel(family(4, 10), { varianceKept: 0.9, maxModes: 2, trimFraction: 0 });
    expect(() => fitShapeModel(model, BASE.slice(1), undefined, { replaceResidual: 5, maxSd: 3, iterations: 3 })).toThrow(/7 points/);
  });
});
