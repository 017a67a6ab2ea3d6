/**
 * Test-set scoring of one stage's predictions: predicted [y, x] cells per test image →
 * radial errors, MRE / SD / SDR under protocols A and B, per landmark, per test split and, when
 * there are several, their union. The final (TPL) predictions and the SSL-stage points both go
 * through `scoreTestPredictions`. Pure: numbers in, numbers out.
 */
import type { PointYX } from '../types';
import type { EvalProtocol, LandmarkEvalCase } from './radial-error';
import { evaluateBySplit, type ErrorStats, type SplitSpec } from './summary';

export const PROTOCOLS: readonly EvalProtocol[] = ['A', 'B'];

/**
 * What scoring needs of an image's labels: its size, its pixel spacing (null: unknown) and the
 * untruncated GT, [x, y] original pixels (absent on unlabelled images, which are never scored).
 */
export interface ImageTruth {
  heightPx: number;
  widthPx: number;
  spacingMm: number | null;
  gtMeanXyPx?: ReadonlyArray<readonly [number, number]>;
}

/** Errors are in mm when every scored image has a spacing, else in pixels of the original images. */
export type ErrorUnit = 'mm' | 'px';

/** What a run without a labelled evaluation image reports instead of metrics. */
export const NO_METRICS_REASON = 'no metrics: no labelled evaluation images';

/** Outliers (> OUTLIER_RADIUS_MM) are gross misses on the patient: shown and stored only for errors in mm. */
export function showsOutliers(unit: ErrorUnit | undefined): boolean {
  return unit !== 'px';
}

/** "mm", or "px (no pixel spacing)": how tables and CLI lines name a unit. */
export function unitLabel(unit: ErrorUnit | undefined): string {
  return unit === 'px' ? 'px (no pixel spacing)' : 'mm';
}

/** The unit the scores of `ids` are in: pixels as soon as one of them has no known spacing. */
export function errorUnitOf(labels: LabelledImages, ids: readonly string[]): ErrorUnit {
  return ids.every((id) => labels.images[id]?.spacingMm != null) ? 'mm' : 'px';
}

/** Image id → its truth (a dataset's labels.json fits). */
export interface LabelledImages {
  images: Readonly<Record<string, ImageTruth>>;
}

/** MRE (mm), SD (mm) and SDR (radius in mm as a string → PERCENT of errors strictly below it) of one set: the headline numbers. */
export interface MetricSummary {
  images: number;
  mreMm: number;
  sdMm: number;
  sdr: Record<string, number>;
  /** Percent of errors above OUTLIER_RADIUS_MM; absent when errors are in px, and in summaries stored before it existed. */
  outlierPercent?: number;
}

export type ImageErrorList = Array<{ id: string; errorsMm: number[] }>;
/** Per-image errors per protocol, of the splits themselves (the report derives the union). */
export type StageErrors = Array<{ protocol: EvalProtocol; sets: Record<string, ImageErrorList> }>;

/** The scores of one stage's predictions on the test images. */
export interface StageScores {
  /** protocol → set → {coveredIds, missingIds, overall, perLandmark}. */
  protocols: Record<string, Record<string, unknown>>;
  /** protocol → set → small summary (what the workflow result carries). */
  summary: Record<string, Record<string, MetricSummary>>;
  errors: StageErrors;
  /** The union of the test splits when there are several, else the one split. */
  headlineSet: string;
  /** What the `…Mm` numbers are in: mm, or original-image pixels when some spacing is unknown. */
  unit: ErrorUnit;
}

export function summaryOf(s: ErrorStats, images: number, unit: ErrorUnit): MetricSummary {
  return {
    images,
    mreMm: s.mreMm,
    sdMm: s.stdMm,
    sdr: Object.fromEntries(s.sdr.map((e) => [String(e.radiusMm), e.percent])),
    ...(showsOutliers(unit) ? { outlierPercent: s.outlierPercent } : {}),
  };
}

/** One scored image; its own spacing, or 1 (errors in px) when `unit` is px. */
export function evalCase(labels: LabelledImages, id: string, predicted: PointYX[], unit: ErrorUnit): LandmarkEvalCase {
  const truth = labels.images[id];
  if (truth?.gtMeanXyPx === undefined) throw new Error(`image "${id}" has no ground truth to score against`);
  return {
    id,
    predicted,
    // labels store [x, y] original pixels; the metrics want [y, x].
    truth: truth.gtMeanXyPx.map(([x, y]) => [y, x] as PointYX),
    originalHeight: truth.heightPx,
    originalWidth: truth.widthPx,
    spacingMm: unit === 'mm' ? (truth.spacingMm as number) : 1,
  };
}

/** Ids of all test splits, each once, in split order. */
export function testIdsOf(testSplits: Record<string, string[]>): string[] {
  return [...new Set(Object.values(testSplits).flat())];
}

/** The evaluated sets: each split, plus their union (named "a+b") when there are several. */
export function testSetSpecs(testSplits: Record<string, string[]>): SplitSpec[] {
  const splits: SplitSpec[] = Object.entries(testSplits).map(([name, ids]) => ({ name, ids }));
  if (splits.length > 1) splits.push({ name: splits.map((s) => s.name).join('+'), ids: testIdsOf(testSplits) });
  return splits;
}

/** Scores predictions of every test image under both protocols, per split and their union. */
export function scoreTestPredictions(args: {
  labels: LabelledImages;
  predicted: ReadonlyMap<string, PointYX[]>;
  testSplits: Record<string, string[]>;
  gridSize: number;
}): StageScores {
  const { labels, predicted, testSplits, gridSize } = args;
  const splits = testSetSpecs(testSplits);
  const unit = errorUnitOf(labels, testIdsOf(testSplits));
  const cases = testIdsOf(testSplits).map((id) => evalCase(labels, id, predicted.get(id)!, unit));
  const protocols: StageScores['protocols'] = {};
  const summary: StageScores['summary'] = {};
  const errors: StageErrors = [];
  for (const protocol of PROTOCOLS) {
    const bySplit = evaluateBySplit(cases, splits, { protocol, gridSize });
    protocols[protocol] = {};
    summary[protocol] = {};
    const sets: Record<string, ImageErrorList> = {};
    for (const s of bySplit.splits) {
      if (!s.report) continue;
      protocols[protocol]![s.split] = { coveredIds: s.coveredIds, missingIds: s.missingIds, overall: s.report.overall, perLandmark: s.report.perLandmark };
      summary[protocol]![s.split] = summaryOf(s.report.overall, s.coveredIds.length, unit);
      if (testSplits[s.split]) sets[s.split] = s.report.imageIds.map((id, k) => ({ id, errorsMm: s.report!.errors[k]! }));
    }
    errors.push({ protocol, sets });
  }
  return { protocols, summary, errors, headlineSet: splits[splits.length - 1]!.name, unit };
}
