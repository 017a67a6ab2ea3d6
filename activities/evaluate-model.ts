/**
 * `evaluateModel` (CPU queue): predicts every test image with the TPL model (ml/tpl) and scores
 * the predictions with ml/metrics under both protocols (spec §6.2 A "paper", §6.3 B "clean"),
 * per landmark and per test split, plus the union of the splits when there are several; also
 * scores the pseudo-labels against ground truth on the training images (template excluded).
 *
 * Stores two content-addressed JSON files and returns small summaries:
 * - metrics: per protocol, per set: overall + per-landmark statistics and per-image errors
 *   (`errors: [{protocol, sets: {test1: [{id, errorsMm}]}}]`, the report's input);
 * - predictions: predicted and protocol-A ground-truth [y, x] cells per test image.
 */
import { Context } from '@temporalio/activity';
import { evaluateBySplit, evaluateLandmarks, type ErrorStats, type EvalProtocol, type LandmarkEvalCase, type SplitSpec } from '../ml/metrics';
import { createTplPredictor } from '../ml/tpl';
import type { PointYX } from '../ml/types';
import type { DatasetLabels } from '../infra/dataset/published';
import { DatasetReader } from './dataset-reader';
import type { ActivityDeps } from './deps';
import { withStorageRetry } from './failures';
import { ProgressReporter } from './progress';
import { runKeys } from './run-keys';
import { sha256Hex } from './training-loop';
import type { EvaluateModelInput, EvaluateModelOutput, MetricSummary, PseudoLabelFile, StageProgress } from './types';

export const METRICS_FORMAT = 'cc2d-metrics-v1';
const PROTOCOLS: readonly EvalProtocol[] = ['A', 'B'];
/** Images per predictLandmarks call: a heartbeat between chunks. */
const PREDICT_CHUNK = 8;

function summaryOf(s: ErrorStats, images: number): MetricSummary {
  return {
    images,
    mreMm: s.mreMm,
    sdMm: s.stdMm,
    sdr: Object.fromEntries(s.sdr.map((e) => [String(e.radiusMm), e.percent])),
  };
}

function evalCase(labels: DatasetLabels, id: string, predicted: PointYX[], spacingMm: number): LandmarkEvalCase {
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

export function createEvaluateModel(deps: ActivityDeps) {
  return async function evaluateModel(input: EvaluateModelInput): Promise<EvaluateModelOutput> {
    const { profile, runId, testSplits, landmarkCount } = input;
    const size = profile.inputSize;
    const ctx = Context.current();
    const reader = new DatasetReader(deps.store, input.datasetVersion);
    const [labels, description, weights] = await Promise.all([
      reader.labels(),
      reader.description(),
      withStorageRetry('get tpl weights', () => deps.store.get(input.tplWeights.key, input.tplWeights.sha256)),
    ]);
    const spacingMm = description.pixelSpacingMm;
    const testIds = [...new Set(Object.values(testSplits).flat())];
    const progress = new ProgressReporter<StageProgress>(ctx, { stage: 'evaluate', step: 0, totalSteps: testIds.length }, deps.progress);
    progress.update({}, true);

    // 1. Predictions, in chunks so heartbeats (and cancellation) get through; weights loaded once.
    const predicted = new Map<string, PointYX[]>();
    const predictor = createTplPredictor({ profile, weights, landmarkCount });
    try {
      for (let i = 0; i < testIds.length; i += PREDICT_CHUNK) {
        progress.throwIfCancelled();
        const ids = testIds.slice(i, i + PREDICT_CHUNK);
        const points = await predictor.predict(await reader.images(size, ids));
        ids.forEach((id, j) => predicted.set(id, points[j]!));
        progress.update({ step: Math.min(i + PREDICT_CHUNK, testIds.length) });
      }
    } finally {
      predictor.dispose();
    }

    // 2. Test metrics: each split, and their union when there are several.
    const splits: SplitSpec[] = Object.entries(testSplits).map(([name, ids]) => ({ name, ids }));
    if (splits.length > 1) splits.push({ name: splits.map((s) => s.name).join('+'), ids: testIds });
    const cases = testIds.map((id) => evalCase(labels, id, predicted.get(id)!, spacingMm));
    const protocols: Record<string, Record<string, unknown>> = {};
    const summary: Record<string, Record<string, MetricSummary>> = {};
    const errors: Array<{ protocol: EvalProtocol; sets: Record<string, Array<{ id: string; errorsMm: number[] }>> }> = [];
    for (const protocol of PROTOCOLS) {
      const bySplit = evaluateBySplit(cases, splits, { protocol, gridSize: size, spacingMm });
      protocols[protocol] = {};
      summary[protocol] = {};
      const sets: Record<string, Array<{ id: string; errorsMm: number[] }>> = {};
      for (const s of bySplit.splits) {
        if (!s.report) continue;
        protocols[protocol]![s.split] = { coveredIds: s.coveredIds, missingIds: s.missingIds, overall: s.report.overall, perLandmark: s.report.perLandmark };
        summary[protocol]![s.split] = summaryOf(s.report.overall, s.coveredIds.length);
        // Per-image errors of the splits themselves; the report derives the union.
        if (testSplits[s.split]) sets[s.split] = s.report.imageIds.map((id, k) => ({ id, errorsMm: s.report!.errors[k]! }));
      }
      errors.push({ protocol, sets });
    }

    // 3. Pseudo-label quality on the training images (protocol A, template excluded: 0 by construction).
    const pseudo = new Map<string, PointYX[]>();
    for (const ref of input.pseudoLabels) {
      const file = JSON.parse(new TextDecoder().decode(await withStorageRetry(`get ${ref.key}`, () => deps.store.get(ref.key, ref.sha256)))) as PseudoLabelFile;
      for (const [id, pts] of Object.entries(file.labels)) if (id !== input.templateId && labels.images[id]) pseudo.set(id, pts);
    }
    const pseudoReport = pseudo.size > 0
      ? evaluateLandmarks([...pseudo].map(([id, pts]) => evalCase(labels, id, pts, spacingMm)), { protocol: 'A', gridSize: size, spacingMm })
      : undefined;

    const headlineSet = splits[splits.length - 1]!.name;
    const metrics = {
      format: METRICS_FORMAT,
      gridSize: size,
      pixelSpacingMm: spacingMm,
      templateId: input.templateId,
      protocols,
      errors,
      ...(pseudoReport
        ? { pseudoLabels: { protocol: 'A', overall: pseudoReport.overall, perLandmark: pseudoReport.perLandmark, images: pseudoReport.imageIds.map((id, k) => ({ id, errorsMm: pseudoReport.errors[k]! })) } }
        : {}),
    };
    const predictions = {
      gridSize: size,
      predictionsYx: Object.fromEntries(testIds.map((id) => [id, predicted.get(id)!])),
      truthYx: Object.fromEntries(testIds.map((id) => [id, labels.images[id]!.workingYx[String(size)]!.map(([y, x]) => [y, x])])),
    };
    const put = async (name: 'metrics' | 'predictions', value: unknown) => {
      const bytes = new TextEncoder().encode(JSON.stringify(value));
      const key = name === 'metrics' ? runKeys.metrics(runId, sha256Hex(bytes)) : runKeys.predictions(runId, sha256Hex(bytes));
      return withStorageRetry(`put ${key}`, () => deps.store.put(key, bytes, { contentType: 'application/json' }));
    };
    const [metricsRef, predictionsRef] = [await put('metrics', metrics), await put('predictions', predictions)];
    return {
      metrics: metricsRef,
      predictions: predictionsRef,
      summary,
      ...(pseudoReport ? { pseudoLabelSummary: summaryOf(pseudoReport.overall, pseudoReport.imageIds.length) } : {}),
      mreMm: summary.A![headlineSet]!.mreMm,
      headlineSet,
      backend: deps.backend(),
    };
  };
}
