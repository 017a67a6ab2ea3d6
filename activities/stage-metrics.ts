/**
 * Test-set scoring shared by the two stages a run reports (spec §6), and the SSL stage itself.
 *
 * - `scoreTestPredictions`: predicted [y, x] cells per test image → radial errors, MRE / SD / SDR
 *   under protocols A and B (ml/metrics), per landmark, per test split and, when there are
 *   several, their union. The final (TPL) predictions and the SSL-stage points go through it.
 * - `evaluateSslStage`: the SSL stage alone ("CC2D-SSL", spec §3): every test image matched
 *   against the run's template (working image + working-grid GT, as pseudo-labelling does) by
 *   cascade matching with the SSL weights, in chunks, then scored as above. One function, two
 *   callers: the `evaluateModel` activity and `cc2d eval --compute-ssl` for finished runs.
 */
import { evaluateBySplit, type ErrorStats, type EvalProtocol, type LandmarkEvalCase, type SplitSpec } from '../ml/metrics';
import type { Profile } from '../ml/profiles';
import { SslMatcher } from '../ml/ssl';
import type { PointYX } from '../ml/types';
import type { DatasetLabels } from '../infra/dataset/published';
import type { DatasetReader } from './dataset-reader';
import type { MetricSummary } from '../contracts/types';

export const PROTOCOLS: readonly EvalProtocol[] = ['A', 'B'];
/** Test images per matching / prediction call: a heartbeat and a cancellation check between chunks. */
export const STAGE_CHUNK = 8;

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
}

export function summaryOf(s: ErrorStats, images: number): MetricSummary {
  return {
    images,
    mreMm: s.mreMm,
    sdMm: s.stdMm,
    sdr: Object.fromEntries(s.sdr.map((e) => [String(e.radiusMm), e.percent])),
  };
}

export function evalCase(labels: DatasetLabels, id: string, predicted: PointYX[], spacingMm: number): LandmarkEvalCase {
  const img = labels.images[id]!;
  return {
    id,
    predicted,
    // labels.json stores [x, y] original pixels; ml/metrics wants [y, x].
    truth: img.gtMeanXyPx.map(([x, y]) => [y, x] as PointYX),
    originalHeight: img.heightPx,
    originalWidth: img.widthPx,
    spacingMm,
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
  labels: DatasetLabels;
  predicted: ReadonlyMap<string, PointYX[]>;
  testSplits: Record<string, string[]>;
  gridSize: number;
  spacingMm: number;
}): StageScores {
  const { labels, predicted, testSplits, gridSize, spacingMm } = args;
  const splits = testSetSpecs(testSplits);
  const cases = testIdsOf(testSplits).map((id) => evalCase(labels, id, predicted.get(id)!, spacingMm));
  const protocols: StageScores['protocols'] = {};
  const summary: StageScores['summary'] = {};
  const errors: StageErrors = [];
  for (const protocol of PROTOCOLS) {
    const bySplit = evaluateBySplit(cases, splits, { protocol, gridSize, spacingMm });
    protocols[protocol] = {};
    summary[protocol] = {};
    const sets: Record<string, ImageErrorList> = {};
    for (const s of bySplit.splits) {
      if (!s.report) continue;
      protocols[protocol]![s.split] = { coveredIds: s.coveredIds, missingIds: s.missingIds, overall: s.report.overall, perLandmark: s.report.perLandmark };
      summary[protocol]![s.split] = summaryOf(s.report.overall, s.coveredIds.length);
      if (testSplits[s.split]) sets[s.split] = s.report.imageIds.map((id, k) => ({ id, errorsMm: s.report!.errors[k]! }));
    }
    errors.push({ protocol, sets });
  }
  return { protocols, summary, errors, headlineSet: splits[splits.length - 1]!.name };
}

export interface SslStageInput {
  reader: DatasetReader;
  profile: Profile;
  /** The run's SSL inference weights (bytes of `runs/<run>/ssl/weights-<sha256>.bin`). */
  weights: Uint8Array;
  templateId: string;
  testSplits: Record<string, string[]>;
  /** Before each chunk (e.g. throws when the activity was cancelled). */
  beforeChunk?: () => void;
  /** After each matched image: (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface SslStageResult extends StageScores {
  stage: 'ssl';
  gridSize: number;
  pixelSpacingMm: number;
  /** Matched [y, x] on the working grid per test image. */
  predicted: Map<string, PointYX[]>;
}

/**
 * CC2D-SSL on the test images: cascade matching from the template (the op sequence of
 * `matchTemplate`, spec §3; the network is loaded once and each chunk matched with it, which
 * gives the same points as one `matchTemplate` call over all images: matching is per image),
 * scored with `scoreTestPredictions`.
 */
export async function evaluateSslStage(input: SslStageInput): Promise<SslStageResult> {
  const { reader, profile, testSplits } = input;
  const size = profile.inputSize;
  const [labels, description, { template, templateLandmarks }] = await Promise.all([
    reader.labels(), reader.description(), reader.template(input.templateId, size),
  ]);
  const testIds = testIdsOf(testSplits);
  const predicted = new Map<string, PointYX[]>();
  const matcher = SslMatcher.create(profile, input.weights);
  try {
    for (let i = 0; i < testIds.length; i += STAGE_CHUNK) {
      input.beforeChunk?.();
      const ids = testIds.slice(i, i + STAGE_CHUNK);
      const points = await matcher.matchImages(template, templateLandmarks, await reader.images(size, ids), (done) => input.onProgress?.(i + done, testIds.length));
      ids.forEach((id, j) => predicted.set(id, points[j]!));
    }
  } finally {
    matcher.dispose();
  }
  const spacingMm = description.pixelSpacingMm;
  return { stage: 'ssl', gridSize: size, pixelSpacingMm: spacingMm, predicted, ...scoreTestPredictions({ labels, predicted, testSplits, gridSize: size, spacingMm }) };
}

/** How the SSL stage is stored (in the metrics JSON as `sslStage`, and by `cc2d eval --compute-ssl`). */
export function sslStageDocument(r: SslStageResult, weights: { key: string; sha256: string }, templateId: string) {
  return {
    stage: 'ssl' as const,
    method: 'CC2D-SSL: cascade template matching only (no TPL), spec §3',
    weights: { key: weights.key, sha256: weights.sha256 },
    templateId,
    headlineSet: r.headlineSet,
    summary: r.summary,
    protocols: r.protocols,
    errors: r.errors,
  };
}
