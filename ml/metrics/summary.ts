/**
 * MRE / SDR summaries (docs/method.md#metrics, #test-sets), overall and per landmark, per test split.
 *
 * - MRE = mean of all (image, landmark) radial errors, in mm.
 * - SDR(r) = percentage of errors STRICTLY below r mm (an error of exactly 2.0 mm does not count
 *   at 2 mm), for r ∈ {2, 2.5, 3, 4} by default.
 * - std = population standard deviation of the errors (divides by n, as numpy's default).
 * - outliers = percentage of errors STRICTLY above 10 mm: the gross misses a clinician must redo.
 */
import { radialErrorsMm, type EvalProtocol, type LandmarkEvalCase, type RadialErrorOptions } from './radial-error';

/** The headline SDR radii (the paper's four): stored summaries, CLI and report tables. */
export const SDR_RADII_MM: readonly number[] = [2, 2.5, 3, 4];

/** Errors above this radius count as outliers (a gross miss, not an imprecise hit). */
export const OUTLIER_RADIUS_MM = 10;

export interface SdrEntry {
  radiusMm: number;
  /** Errors strictly below radiusMm. */
  count: number;
  /** 100 · count / n. */
  percent: number;
}

export interface ErrorStats {
  /** Number of errors (images × landmarks). */
  n: number;
  mreMm: number;
  stdMm: number;
  maxMm: number;
  sdr: SdrEntry[];
  /** Percent of errors strictly above OUTLIER_RADIUS_MM; NaN for an empty list. */
  outlierPercent: number;
}

/**
 * SDR(r): the PERCENT (0-100) of `errors` strictly below `radiusMm`; NaN for an empty list.
 * The one SDR of the project: stored metrics, CLI and report all go through it.
 */
export function sdrPercent(errors: readonly number[], radiusMm: number): number {
  if (errors.length === 0) return Number.NaN;
  return (100 * countBelow(errors, radiusMm)) / errors.length;
}

/** The PERCENT (0-100) of `errors` strictly above `radiusMm`; NaN for an empty list. */
export function outlierPercent(errors: readonly number[], radiusMm = OUTLIER_RADIUS_MM): number {
  if (errors.length === 0) return Number.NaN;
  let count = 0;
  for (const e of errors) if (e > radiusMm) count++;
  return (100 * count) / errors.length;
}

function countBelow(errors: readonly number[], radiusMm: number): number {
  let count = 0;
  for (const e of errors) if (e < radiusMm) count++;
  return count;
}

/** Statistics of a list of radial errors (mm). NaN statistics for an empty list. */
export function errorStats(errors: readonly number[], radiiMm: readonly number[] = SDR_RADII_MM): ErrorStats {
  const n = errors.length;
  let sum = 0;
  let max = n > 0 ? -Infinity : Number.NaN;
  for (const e of errors) {
    if (!(e >= 0)) throw new Error(`errorStats: errors must be non-negative numbers, got ${e}`);
    sum += e;
    if (e > max) max = e;
  }
  const mre = n > 0 ? sum / n : Number.NaN;
  let ss = 0;
  for (const e of errors) ss += (e - mre) ** 2;
  return {
    n,
    mreMm: mre,
    stdMm: n > 0 ? Math.sqrt(ss / n) : Number.NaN,
    maxMm: max,
    sdr: radiiMm.map((r) => ({ radiusMm: r, count: countBelow(errors, r), percent: sdrPercent(errors, r) })),
    outlierPercent: outlierPercent(errors),
  };
}

export interface EvaluationOptions extends RadialErrorOptions {
  radiiMm?: readonly number[];
}

export interface EvaluationReport {
  protocol: EvalProtocol;
  gridSize: number;
  /** Ids of the images evaluated, in input order. */
  imageIds: string[];
  landmarkCount: number;
  overall: ErrorStats;
  /** One entry per landmark index. */
  perLandmark: ErrorStats[];
  /** errors[i][k] = radial error (mm) of landmark k in image imageIds[i]. */
  errors: number[][];
}

/** Radial errors and their statistics for a set of images (one protocol). */
export function evaluateLandmarks(cases: readonly LandmarkEvalCase[], opts: EvaluationOptions): EvaluationReport {
  const radii = opts.radiiMm ?? SDR_RADII_MM;
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.id)) throw new Error(`evaluateLandmarks: image id "${c.id}" appears twice`);
    seen.add(c.id);
  }
  const k = cases.length > 0 ? cases[0]!.truth.length : 0;
  const errors = cases.map((c) => {
    if (c.truth.length !== k) throw new Error(`evaluateLandmarks: case "${c.id}" has ${c.truth.length} landmarks, the first case has ${k}`);
    return radialErrorsMm(c, opts);
  });
  return {
    protocol: opts.protocol,
    gridSize: opts.gridSize,
    imageIds: cases.map((c) => c.id),
    landmarkCount: k,
    overall: errorStats(errors.flat(), radii),
    perLandmark: Array.from({ length: k }, (_x, j) => errorStats(errors.map((e) => e[j]!), radii)),
    errors,
  };
}

export interface SplitSpec {
  name: string;
  ids: readonly string[];
}

export interface SplitReport {
  split: string;
  /** How many ids the split lists. */
  requestedCount: number;
  /** Ids of the split that were evaluated (present among the cases), in split order. */
  coveredIds: string[];
  /** Ids of the split with no case (e.g. Test2 on the project's copy). */
  missingIds: string[];
  /** null when no id of the split was present. */
  report: EvaluationReport | null;
}

export interface SplitEvaluation {
  splits: SplitReport[];
  /** Case ids that belong to none of the splits (not evaluated). */
  unassignedIds: string[];
}

/** Evaluates each split on the cases it covers, reporting which ids were covered and missing. */
export function evaluateBySplit(cases: readonly LandmarkEvalCase[], splits: readonly SplitSpec[], opts: EvaluationOptions): SplitEvaluation {
  const byId = new Map<string, LandmarkEvalCase>();
  for (const c of cases) {
    if (byId.has(c.id)) throw new Error(`evaluateBySplit: image id "${c.id}" appears twice`);
    byId.set(c.id, c);
  }
  const assigned = new Set<string>();
  const reports = splits.map((sp): SplitReport => {
    const covered = sp.ids.filter((id) => byId.has(id));
    covered.forEach((id) => assigned.add(id));
    return {
      split: sp.name,
      requestedCount: sp.ids.length,
      coveredIds: covered,
      missingIds: sp.ids.filter((id) => !byId.has(id)),
      report: covered.length > 0 ? evaluateLandmarks(covered.map((id) => byId.get(id)!), opts) : null,
    };
  });
  return { splits: reports, unassignedIds: cases.map((c) => c.id).filter((id) => !assigned.has(id)) };
}

function idRange(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_x, i) => String(from + i).padStart(3, '0'));
}

/** The ISBI 2015 test splits (docs/method.md#test-sets): Test1 = 151–300, Test2 = 301–400, and both together. */
export function isbiTestSplits(): SplitSpec[] {
  return [
    { name: 'Test1', ids: idRange(151, 300) },
    { name: 'Test2', ids: idRange(301, 400) },
    { name: 'Test1+Test2', ids: idRange(151, 400) },
  ];
}
