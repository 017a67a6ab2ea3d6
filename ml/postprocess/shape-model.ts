/**
 * A statistical shape model of the K landmarks (point distribution model): shapes aligned by
 * generalised Procrustes (translation, rotation, scale), then PCA of the aligned coordinates.
 * Built from the template and the pseudo-labels, which contain gross errors: points far from the
 * mean get zero weight in the alignment (Tukey biweight on a per-landmark robust scale), the worst
 * shapes are trimmed, and outlying points are replaced by the mean before the PCA.
 *
 * Fitting a prediction is a robust, confidence-weighted active-shape fit; only landmarks whose
 * distance to the fitted shape exceeds a threshold are replaced (gross errors): the others keep
 * the network's position, which is more precise than any shape model.
 */
import type { PointYX } from '../types';

export interface ShapeModel {
  landmarkCount: number;
  /** Mean shape in the normalised frame (centroid 0, root-mean-square radius 1), [y, x]. */
  mean: PointYX[];
  /** Orthonormal modes, each 2K values laid out y0, x0, y1, x1, … */
  modes: number[][];
  /** Variance of each mode (its eigenvalue), descending. */
  variances: number[];
  /** Mean of the discarded eigenvalues: the noise variance of a probabilistic PCA (ridge of the fit). */
  noiseVariance: number;
  /** Shapes used after trimming / given. */
  shapesUsed: number;
  shapesGiven: number;
}

export interface BuildShapeModelOptions {
  /** Share of the variance the kept modes explain (0-1). */
  varianceKept: number;
  maxModes: number;
  /** Share of the shapes with the largest robust residual dropped before the PCA (0-0.5). */
  trimFraction: number;
}

export interface FitShapeOptions {
  /** Residual (in grid cells) above which a landmark is replaced by the fitted shape's. */
  replaceResidual: number;
  /** Mode coefficients are clamped to ± this many standard deviations. */
  maxSd: number;
  iterations: number;
}

export interface ShapeFit {
  /** The input points, with the replaced ones taken from the fitted shape (rounded cells). */
  landmarks: PointYX[];
  /** The fitted shape itself (unrounded). */
  fitted: PointYX[];
  /** Distance of each input point to the fitted shape, in cells. */
  residual: number[];
  replaced: boolean[];
}

// ---- complex-number similarity (z = x + i·y) ----------------------------------------------------

interface Similarity { /** z ↦ s·(z − a) + b */ sRe: number; sIm: number; aY: number; aX: number; bY: number; bX: number }

function weightedCentroid(p: readonly PointYX[], w: readonly number[]): PointYX {
  let sw = 0;
  let y = 0;
  let x = 0;
  p.forEach((q, k) => { sw += w[k]!; y += w[k]! * q[0]; x += w[k]! * q[1]; });
  return sw > 0 ? [y / sw, x / sw] : [0, 0];
}

/** The weighted least-squares similarity taking `from` onto `to`. */
export function alignSimilarity(from: readonly PointYX[], to: readonly PointYX[], w: readonly number[]): Similarity {
  const [aY, aX] = weightedCentroid(from, w);
  const [bY, bX] = weightedCentroid(to, w);
  let re = 0;
  let im = 0;
  let norm = 0;
  from.forEach((p, k) => {
    const ux = p[1] - aX; const uy = p[0] - aY;
    const vx = to[k]![1] - bX; const vy = to[k]![0] - bY;
    // conj(u)·v
    re += w[k]! * (ux * vx + uy * vy);
    im += w[k]! * (ux * vy - uy * vx);
    norm += w[k]! * (ux * ux + uy * uy);
  });
  return norm > 0 ? { sRe: re / norm, sIm: im / norm, aY, aX, bY, bX } : { sRe: 1, sIm: 0, aY, aX, bY, bX };
}

export function applySimilarity(t: Similarity, p: PointYX): PointYX {
  const ux = p[1] - t.aX;
  const uy = p[0] - t.aY;
  return [t.bY + t.sRe * uy + t.sIm * ux, t.bX + t.sRe * ux - t.sIm * uy];
}

function invertSimilarity(t: Similarity): Similarity {
  const n = t.sRe * t.sRe + t.sIm * t.sIm;
  return { sRe: t.sRe / n, sIm: -t.sIm / n, aY: t.bY, aX: t.bX, bY: t.aY, bX: t.aX };
}

function normalise(shape: readonly PointYX[]): PointYX[] {
  const [cy, cx] = weightedCentroid(shape, shape.map(() => 1));
  const rms = Math.sqrt(shape.reduce((a, p) => a + (p[0] - cy) ** 2 + (p[1] - cx) ** 2, 0) / shape.length) || 1;
  return shape.map((p) => [(p[0] - cy) / rms, (p[1] - cx) / rms]);
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** Tukey's biweight with the usual 95 %-efficiency constant. */
const tukey = (r: number, scale: number): number => {
  const u = r / (4.685 * scale);
  return u >= 1 ? 0 : (1 - u * u) ** 2;
};

// ---- symmetric eigendecomposition (cyclic Jacobi; 2K ≤ a few hundred) --------------------------

export function symmetricEigen(matrix: readonly number[][]): { values: number[]; vectors: number[][] } {
  const n = matrix.length;
  const a = matrix.map((r) => [...r]);
  const v: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) off += a[i]![j]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p]![q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k]![p]!; const akq = a[k]![q]!;
          a[k]![p] = c * akp - s * akq; a[k]![q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p]![k]!; const aqk = a[q]![k]!;
          a[p]![k] = c * apk - s * aqk; a[q]![k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k]![p]!; const vkq = v[k]![q]!;
          v[k]![p] = c * vkp - s * vkq; v[k]![q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = a.map((_, i) => i).sort((i, j) => a[j]![j]! - a[i]![i]!);
  return { values: order.map((i) => a[i]![i]!), vectors: order.map((i) => v.map((row) => row[i]!)) };
}

// ---- build -------------------------------------------------------------------------------------

/** Robustly aligns the shapes; returns the aligned shapes, the per-point weights and the mean. */
function robustProcrustes(shapes: readonly PointYX[][], k: number) {
  const normed = shapes.map(normalise);
  let weights = normed.map(() => new Array<number>(k).fill(1));
  let mean = normed[0]!;
  let aligned = normed;
  for (let it = 0; it < 15; it++) {
    aligned = normed.map((s, i) => { const t = alignSimilarity(s, mean, weights[i]!); return s.map((p) => applySimilarity(t, p)); });
    const next: PointYX[] = [];
    for (let j = 0; j < k; j++) {
      let sw = 0; let y = 0; let x = 0;
      aligned.forEach((s, i) => { const w = weights[i]![j]!; sw += w; y += w * s[j]![0]; x += w * s[j]![1]; });
      next.push(sw > 0 ? [y / sw, x / sw] : mean[j]!);
    }
    // Keep the frame of the previous mean (no drift of rotation), then renormalise.
    const keep = alignSimilarity(normalise(next), mean, new Array<number>(k).fill(1));
    mean = normalise(normalise(next).map((p) => applySimilarity(keep, p)));
    const resid = aligned.map((s) => s.map((p, j) => Math.hypot(p[0] - mean[j]![0], p[1] - mean[j]![1])));
    const scales = Array.from({ length: k }, (_, j) => Math.max(1.4826 * median(resid.map((r) => r[j]!)), 1e-6));
    weights = resid.map((r) => r.map((v, j) => tukey(v, scales[j]!)));
  }
  const resid = aligned.map((s) => s.map((p, j) => Math.hypot(p[0] - mean[j]![0], p[1] - mean[j]![1])));
  const scales = Array.from({ length: k }, (_, j) => Math.max(1.4826 * median(resid.map((r) => r[j]!)), 1e-6));
  return { aligned, weights, mean, resid, scales };
}

export function buildShapeModel(shapes: readonly PointYX[][], options: BuildShapeModelOptions): ShapeModel {
  if (shapes.length < 2) throw new Error(`buildShapeModel: needs at least 2 shapes, got ${shapes.length}`);
  const k = shapes[0]!.length;
  if (k < 2) throw new Error(`buildShapeModel: needs at least 2 landmarks, got ${k}`);
  shapes.forEach((s, i) => { if (s.length !== k) throw new Error(`buildShapeModel: shape ${i} has ${s.length} landmarks, expected ${k}`); });
  const { aligned, weights, mean, resid, scales } = robustProcrustes(shapes, k);
  // Trim the shapes with the largest mean (capped) normalised residual.
  const score = resid.map((r) => r.reduce((a, v, j) => a + Math.min(v / scales[j]!, 10), 0) / k);
  const keepCount = Math.max(2, shapes.length - Math.floor(options.trimFraction * shapes.length));
  const kept = score.map((_, i) => i).sort((a, b) => score[a]! - score[b]! || a - b).slice(0, keepCount).sort((a, b) => a - b);
  // PCA of the deviations from the mean; outlying points (zero weight) count as the mean.
  const dim = 2 * k;
  const cov = Array.from({ length: dim }, () => new Array<number>(dim).fill(0));
  const devs = kept.map((i) => {
    const d = new Array<number>(dim);
    for (let j = 0; j < k; j++) {
      const inlier = weights[i]![j]! > 0;
      d[2 * j] = inlier ? aligned[i]![j]![0] - mean[j]![0] : 0;
      d[2 * j + 1] = inlier ? aligned[i]![j]![1] - mean[j]![1] : 0;
    }
    return d;
  });
  for (const d of devs) for (let a = 0; a < dim; a++) for (let b = a; b < dim; b++) cov[a]![b]! += d[a]! * d[b]!;
  for (let a = 0; a < dim; a++) for (let b = a; b < dim; b++) { cov[a]![b]! /= Math.max(1, devs.length - 1); cov[b]![a] = cov[a]![b]!; }
  const { values, vectors } = symmetricEigen(cov);
  const positive = values.map((v) => Math.max(0, v));
  const total = positive.reduce((a, b) => a + b, 0);
  let m = 0;
  let acc = 0;
  const maxModes = Math.min(options.maxModes, Math.max(0, devs.length - 1), dim - 4);
  while (m < maxModes && total > 0 && acc / total < options.varianceKept) acc += positive[m++]!;
  const rest = positive.slice(m, dim - 4); // 4 dimensions are removed by the alignment
  const noiseVariance = Math.max(rest.length ? rest.reduce((a, b) => a + b, 0) / rest.length : 0, 1e-8);
  return {
    landmarkCount: k, mean, modes: vectors.slice(0, m), variances: positive.slice(0, m), noiseVariance,
    shapesUsed: kept.length, shapesGiven: shapes.length,
  };
}

// ---- fit ---------------------------------------------------------------------------------------

function instance(model: ShapeModel, b: readonly number[]): PointYX[] {
  return model.mean.map(([y, x], j) => {
    let dy = 0; let dx = 0;
    model.modes.forEach((mode, i) => { dy += b[i]! * mode[2 * j]!; dx += b[i]! * mode[2 * j + 1]!; });
    return [y + dy, x + dx];
  });
}

/** Solves the small dense system A·x = r (Gaussian elimination with partial pivoting). */
function solve(a: number[][], r: number[]): number[] {
  const n = r.length;
  const m = a.map((row, i) => [...row, r[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(m[i]![c]!) > Math.abs(m[p]![c]!)) p = i;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]! || 1e-12;
    for (let i = c + 1; i < n; i++) {
      const f = m[i]![c]! / piv;
      for (let j = c; j <= n; j++) m[i]![j]! -= f * m[c]![j]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = m[i]![n]!;
    for (let j = i + 1; j < n; j++) s -= m[i]![j]! * x[j]!;
    x[i] = s / (m[i]![i]! || 1e-12);
  }
  return x;
}

/**
 * Fits the model to one image's predicted points (grid cells) with per-landmark weights (the
 * predictor's confidences; all equal when absent): iteratively reweighted pose + mode
 * coefficients (ridge = the model's noise variance, clamped to ±maxSd), Tukey weights on the
 * residuals with a robust scale of at least one cell.
 */
export function fitShapeModel(model: ShapeModel, points: readonly PointYX[], confidence: readonly number[] | undefined, options: FitShapeOptions): ShapeFit {
  const k = model.landmarkCount;
  if (points.length !== k) throw new Error(`fitShapeModel: ${points.length} points, the model has ${k} landmarks`);
  const prior = Array.from({ length: k }, (_, j) => Math.max(confidence?.[j] ?? 1, 1e-3));
  const m = model.modes.length;
  let b = new Array<number>(m).fill(0);
  let u = [...prior];
  let fitted: PointYX[] = [];
  let residual: number[] = [];
  for (let it = 0; it < options.iterations; it++) {
    const x = instance(model, b);
    const pose = alignSimilarity(x, points, u);
    const inv = invertSimilarity(pose);
    const y = points.map((p) => applySimilarity(inv, p));
    if (m > 0) {
      // (Φᵀ U Φ + σ² Λ⁻¹) b = Φᵀ U (y − μ)
      const a = Array.from({ length: m }, () => new Array<number>(m).fill(0));
      const r = new Array<number>(m).fill(0);
      for (let i = 0; i < m; i++) {
        const phiI = model.modes[i]!;
        for (let j = 0; j < k; j++) r[i]! += u[j]! * (phiI[2 * j]! * (y[j]![0] - model.mean[j]![0]) + phiI[2 * j + 1]! * (y[j]![1] - model.mean[j]![1]));
        for (let l = i; l < m; l++) {
          const phiL = model.modes[l]!;
          let s = 0;
          for (let j = 0; j < k; j++) s += u[j]! * (phiI[2 * j]! * phiL[2 * j]! + phiI[2 * j + 1]! * phiL[2 * j + 1]!);
          a[i]![l] = s; a[l]![i] = s;
        }
        a[i]![i]! += model.noiseVariance / Math.max(model.variances[i]!, 1e-12) * (u.reduce((p, q) => p + q, 0) / k);
      }
      b = solve(a, r).map((v, i) => { const lim = options.maxSd * Math.sqrt(model.variances[i]!); return Math.max(-lim, Math.min(lim, v)); });
    }
    const shape = instance(model, b);
    const pose2 = alignSimilarity(shape, points, u);
    fitted = shape.map((p) => applySimilarity(pose2, p));
    residual = fitted.map((p, j) => Math.hypot(p[0] - points[j]![0], p[1] - points[j]![1]));
    const scale = Math.max(1.4826 * median(residual), 1);
    u = residual.map((r, j) => prior[j]! * Math.max(tukey(r, scale), 1e-3));
  }
  const replaced = residual.map((r) => r > options.replaceResidual);
  const landmarks = points.map((p, j): PointYX => (replaced[j] ? [Math.round(fitted[j]![0]), Math.round(fitted[j]![1])] : [p[0], p[1]]));
  return { landmarks, fitted, residual, replaced };
}
