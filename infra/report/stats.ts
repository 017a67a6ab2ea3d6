/**
 * Numbers of a report, derived from per-image radial errors (mm) with ml/metrics, the same
 * functions the evaluation stores its metrics with: MRE, SD and SDR (PERCENT of errors strictly
 * below r, so an error of exactly 2.0 mm does not count at 2 mm) agree with the stored ones.
 * Pure functions.
 */
import { errorStats, sdrPercent, SDR_RADII_MM } from '../../ml/metrics';
import type { ImageErrors, SetErrors } from './types';

export interface ErrorSummary {
  /** Number of errors (images × landmarks). */
  count: number;
  mreMm: number;
  /** Population standard deviation of the errors. */
  sdMm: number;
  medianMm: number;
  maxMm: number;
  /** radius → percent of errors strictly below it. */
  sdr: Map<number, number>;
  /** Percent of errors strictly above OUTLIER_RADIUS_MM. */
  outlierPercent: number;
}

export function summarizeErrors(errors: readonly number[], radii: readonly number[] = SDR_RADII_MM): ErrorSummary {
  const s = errorStats(errors, radii);
  const sorted = [...errors].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length === 0 ? Number.NaN : sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { count: s.n, mreMm: s.mreMm, sdMm: s.stdMm, medianMm: median, maxMm: s.maxMm, sdr: new Map(s.sdr.map((e) => [e.radiusMm, e.percent])), outlierPercent: s.outlierPercent };
}

export function allErrors(images: readonly ImageErrors[]): number[] {
  const out: number[] = [];
  for (const im of images) for (const e of im.errorsMm) out.push(e);
  return out;
}

/** Errors of landmark k over all images. */
export function landmarkErrors(images: readonly ImageErrors[], k: number): number[] {
  const out: number[] = [];
  for (const im of images) {
    const e = im.errorsMm[k];
    if (e !== undefined) out.push(e);
  }
  return out;
}

export function imageMre(im: ImageErrors): number {
  let s = 0;
  for (const e of im.errorsMm) s += e;
  return s / im.errorsMm.length;
}

export interface OverlayCases {
  best: ImageErrors;
  median: ImageErrors;
  worst: ImageErrors;
}

/**
 * Best, median and worst image of a set by image MRE (ties broken by id, so the choice is
 * deterministic). The median is the lower median for an even count.
 */
export function pickOverlayCases(images: readonly ImageErrors[]): OverlayCases {
  if (images.length === 0) throw new Error('pickOverlayCases: no images');
  const ranked = images
    .map((im) => ({ im, mre: imageMre(im) }))
    .sort((a, b) => a.mre - b.mre || (a.im.id < b.im.id ? -1 : a.im.id > b.im.id ? 1 : 0));
  return {
    best: ranked[0]!.im,
    median: ranked[Math.floor((ranked.length - 1) / 2)]!.im,
    worst: ranked[ranked.length - 1]!.im,
  };
}

/** SDR(r) in percent for r = 0, step, …, maxMm (strictly below); 0 for no errors. */
export function sdrCurve(errors: readonly number[], maxMm = 10, stepMm = 0.05): Array<{ r: number; sdr: number }> {
  const n = Math.round(maxMm / stepMm);
  return Array.from({ length: n + 1 }, (_x, j) => ({ r: j * stepMm, sdr: errors.length === 0 ? 0 : sdrPercent(errors, j * stepMm) }));
}

export interface Histogram {
  binMm: number;
  /** counts[i] = errors in [i·bin, (i+1)·bin); the last bin also holds everything ≥ its start. */
  counts: number[];
  overflowFromMm: number;
}

export function histogram(errors: readonly number[], binMm = 0.5, maxMm = 15): Histogram {
  const bins = Math.ceil(maxMm / binMm);
  const counts = new Array<number>(bins + 1).fill(0);
  for (const e of errors) {
    const i = Math.min(bins, Math.floor(e / binMm));
    counts[i]! += 1;
  }
  return { binMm, counts, overflowFromMm: bins * binMm };
}

const SPLIT_LABELS: Record<string, string> = { test1: 'Test1', test2: 'Test2', 'test1+test2': 'Test1+Test2', train: 'Train' };

export function splitLabel(split: string): string {
  return SPLIT_LABELS[split.toLowerCase()] ?? split;
}

/**
 * The entries of an SDR record keyed by radius ("2", "2.5", ...) by increasing radius. Needed
 * wherever such a record is shown: JavaScript lists integer keys first, so `Object.entries`
 * gives 2, 3, 4, 2.5.
 */
export function sdrByRadius<T>(sdr: Readonly<Record<string, T>>): [string, T][] {
  return Object.entries(sdr).sort(([a], [b]) => Number(a) - Number(b));
}

/**
 * The sets a report shows for one protocol: the given ones in the order Test1, Test2,
 * Test1+Test2, others; plus Test1+Test2 as the union of Test1 and Test2 when both are present
 * and it was not given.
 */
export function withUnionSet(sets: readonly SetErrors[]): SetErrors[] {
  const by = new Map(sets.map((s) => [s.split.toLowerCase(), s]));
  const out = [...sets];
  const t1 = by.get('test1');
  const t2 = by.get('test2');
  if (t1 && t2 && !by.has('test1+test2')) out.push({ split: 'test1+test2', images: [...t1.images, ...t2.images] });
  const order = (s: string): number => ({ test1: 0, test2: 1, 'test1+test2': 2 })[s.toLowerCase()] ?? 3;
  return out.sort((a, b) => order(a.split) - order(b.split));
}

/** Downsamples a loss log to at most `maxPoints` by bucket means (keeps first and last step). */
export function downsample(points: ReadonlyArray<{ step: number; loss: number | null }>, maxPoints = 600): Array<{ step: number; loss: number }> {
  const finite = points.filter((p): p is { step: number; loss: number } => p.loss !== null && Number.isFinite(p.loss));
  if (finite.length <= maxPoints) return finite.map((p) => ({ step: p.step, loss: p.loss }));
  const out: Array<{ step: number; loss: number }> = [];
  const size = finite.length / maxPoints;
  for (let b = 0; b < maxPoints; b++) {
    const lo = Math.floor(b * size);
    const hi = Math.max(lo + 1, Math.floor((b + 1) * size));
    let s = 0;
    let st = 0;
    for (let i = lo; i < hi; i++) {
      s += finite[i]!.loss;
      st += finite[i]!.step;
    }
    out.push({ step: st / (hi - lo), loss: s / (hi - lo) });
  }
  return out;
}
