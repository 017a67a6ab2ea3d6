/**
 * `evaluateModel` (CPU queue): predicts EVERY image of the dataset with the TPL model (ml/tpl),
 * post-processed as the profile says (ml/postprocess: test-time augmentation; the shape prior, whose
 * model it builds from the template and the pseudo-labels and stores for `cc2d predict`), then
 * refined by the refinement stage's weights when the run has them (ml/refine): training images,
 * the template and the evaluation splits; scores the labelled evaluation images
 * (the plan's test splits) with ml/metrics under both protocols (A "paper", B "clean"), per
 * landmark and per test split, plus the union of the splits when there are several, in mm or,
 * when a scored image has no pixel spacing, in original pixels (`unit`); does the same for the
 * SSL stage alone (CC2D-SSL: cascade matching from the template with the run's SSL weights,
 * infra/evaluation/ssl-stage.ts) when the input names the SSL weights; also scores the
 * pseudo-labels on the training images that have ground truth (template excluded). With no
 * labelled evaluation image nothing is scored: the outputs say so (`noMetrics`, no `mreMm`).
 *
 * Stores two content-addressed JSON files and returns small summaries:
 * - metrics: per protocol, per set: overall + per-landmark statistics and per-image errors
 *   (`errors: [{protocol, sets: {test1: [{id, errorsMm}]}}]`, the report's input). The top-level
 *   `protocols` / `errors` are the final model's (`stage: 'tpl'`); the SSL stage is in
 *   `sslStage` (`stage: 'ssl'`, same layout, plus its weights and summary);
 * - predictions: per image the predicted [y, x] cells and the same points in original pixels
 *   ([x, y], `predictionsXyPx`); protocol-A ground-truth cells per scored image (`truthYx`); the
 *   SSL-stage points of the scored images under `sslPredictionsYx`.
 */
import { Context } from '@temporalio/activity';
import { METRICS_FORMAT, PseudoLabelFileSchema, SHAPE_MODEL_FORMAT, type ShapeModelDocument } from '../contracts/documents';
import type { ArtifactRef, EvaluateModelInput, EvaluateModelOutput, StageProgress } from '../contracts/types';
import { DatasetReader } from '../infra/dataset/reader';
import { evaluateSslStage, sslStageDocument, STAGE_CHUNK } from '../infra/evaluation/ssl-stage';
import { prototypePoolIds } from '../ml/ssl';
import { sha256Hex } from '../infra/storage/hash';
import { runKeys } from '../infra/storage/keys';
import type { ObjectStore } from '../infra/storage/object-store';
import { readJson } from '../infra/storage/read-json';
import { errorUnitOf, evalCase, evaluateLandmarks, gridToOriginalXy, NO_METRICS_REASON, scoreTestPredictions, summaryOf, testIdsOf } from '../ml/metrics';
import { buildRunShapeModel, SHAPE_PRIOR_MIN_LANDMARKS, SHAPE_PRIOR_MIN_SHAPES, type ShapeModel } from '../ml/postprocess';
import { postprocessOf, type Profile } from '../ml/profiles';
import { createFinalLandmarkPredictor } from '../ml/final-landmarks';
import type { PointYX } from '../ml/types';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';
import { ProgressReporter } from './progress';

export function createEvaluateModel(deps: ActivityDeps) {
  return async function evaluateModel(input: EvaluateModelInput): Promise<EvaluateModelOutput> {
    const { profile, runId, testSplits, landmarkCount } = input;
    const size = profile.inputSize;
    const ctx = Context.current();
    const store = retryingStore(deps.store);
    const reader = new DatasetReader(store, input.datasetVersion);
    const [labels, description, weights, sslWeights, refineWeights] = await Promise.all([
      reader.labels(),
      reader.description(),
      store.get(input.tplWeights.key, input.tplWeights.sha256),
      input.sslWeights ? store.get(input.sslWeights.key, input.sslWeights.sha256) : undefined,
      input.refineWeights && profile.refine ? store.get(input.refineWeights.key, input.refineWeights.sha256) : undefined,
    ]);
    const testIds = testIdsOf(testSplits);
    // Every image, the scored ones first (a failure on one of them surfaces early).
    const scored = new Set(testIds);
    const allIds = [...testIds, ...labels.ids.filter((id) => !scored.has(id))];
    const sslIds = sslWeights ? testIds.length : 0;
    const totalSteps = allIds.length + sslIds;
    const progress = new ProgressReporter<StageProgress>(ctx, { stage: 'evaluate', step: 0, totalSteps }, deps.progress);
    progress.update({}, true);

    // 0. The pseudo-labels: scored below, and the shape prior's model when the profile has it on.
    const pseudoFiles = await Promise.all(input.pseudoLabels.map((ref) => readJson(store, ref, PseudoLabelFileSchema)));
    const shape = postprocessOf(profile).shapePrior.enabled
      ? await storeShapeModel(store, runId, input.templateId, profile, await reader.workingLandmarks(input.templateId, size),
          pseudoFiles.flatMap((f) => Object.entries(f.labels).filter(([id]) => id !== input.templateId).map(([, pts]) => pts)))
      : undefined;

    // 1. Predictions (post-processed as the profile says), in chunks so heartbeats (and cancellation) get through; weights loaded once.
    const predicted = new Map<string, PointYX[]>();
    let replacedLandmarks = 0;
    // TPL -> post-processing -> refinement (when the run has it), the same path as `cc2d predict`.
    const predictor = createFinalLandmarkPredictor({
      profile, tplWeights: weights, ...(refineWeights ? { refineWeights } : {}), ...(shape ? { shapeModel: shape.model } : {}), landmarkCount,
    });
    try {
      for (let i = 0; i < allIds.length; i += STAGE_CHUNK) {
        progress.throwIfCancelled();
        const ids = allIds.slice(i, i + STAGE_CHUNK);
        const processed = await predictor.predict(await reader.images(size, ids), (fine) => reader.images(fine, ids));
        replacedLandmarks += processed.reduce((a, p) => a + p.replaced.filter(Boolean).length, 0);
        ids.forEach((id, j) => predicted.set(id, processed[j]!.landmarks));
        progress.update({ step: Math.min(i + STAGE_CHUNK, allIds.length) });
      }
    } finally {
      predictor.dispose();
    }

    // 2. Test metrics of the final model: each split, and their union when there are several.
    const tpl = testIds.length > 0 ? scoreTestPredictions({ labels, predicted, testSplits, gridSize: size }) : undefined;

    // 2b. The SSL stage alone (CC2D-SSL) on the same test images, scored the same way.
    const ssl = sslWeights && tpl
      ? await evaluateSslStage({
          reader, profile, weights: sslWeights, templateId: input.templateId, testSplits,
          // The prototypes' pool is what pseudo-labelling matched: the training ids, template excluded.
          poolIds: prototypePoolIds(pseudoFiles.flatMap((f) => Object.keys(f.labels)), input.templateId),
          beforeChunk: () => progress.throwIfCancelled(),
          onPoolChunk: () => {
            progress.throwIfCancelled();
            progress.update({});
          },
          onProgress: (done) => progress.update({ step: allIds.length + done }),
        })
      : undefined;

    // 3. Pseudo-label quality on the training images (protocol A, template excluded: 0 by construction).
    const pseudo = new Map<string, PointYX[]>();
    for (const file of pseudoFiles) {
      for (const [id, pts] of Object.entries(file.labels)) if (id !== input.templateId && labels.images[id]?.labelled) pseudo.set(id, pts);
    }
    const pseudoUnit = errorUnitOf(labels, [...pseudo.keys()]);
    const pseudoReport = pseudo.size > 0
      ? evaluateLandmarks([...pseudo].map(([id, pts]) => evalCase(labels, id, pts, pseudoUnit)), { protocol: 'A', gridSize: size })
      : undefined;

    const metrics = {
      format: METRICS_FORMAT,
      gridSize: size,
      pixelSpacingMm: description.pixelSpacingMm,
      ...(tpl ? { unit: tpl.unit, protocolB: 'cell-centre' as const } : { noMetrics: NO_METRICS_REASON }),
      templateId: input.templateId,
      landmarkNames: labels.landmarkNames,
      // `protocols` and `errors` here are the final (TPL) model's; the SSL stage is `sslStage`.
      stage: 'tpl' as const,
      protocols: tpl?.protocols ?? {},
      errors: tpl?.errors ?? [],
      ...(ssl && input.sslWeights ? { sslStage: sslStageDocument(ssl, input.sslWeights, input.templateId) } : {}),
      ...(postprocessOn(profile)
        ? { postprocess: { ...postprocessOf(profile), replacedLandmarks, ...(postprocessOf(profile).shapePrior.enabled && !shape ? { shapePriorSkipped: SHAPE_PRIOR_SKIPPED } : {}) } }
        : {}),
      ...(pseudoReport
        ? { pseudoLabels: { protocol: 'A', overall: pseudoReport.overall, perLandmark: pseudoReport.perLandmark, images: pseudoReport.imageIds.map((id, k) => ({ id, errorsMm: pseudoReport.errors[k]! })) } }
        : {}),
    };
    const predictions = {
      gridSize: size,
      landmarkNames: labels.landmarkNames,
      predictionsYx: Object.fromEntries(allIds.map((id) => [id, predicted.get(id)!])),
      predictionsXyPx: Object.fromEntries(allIds.map((id) => {
        const { heightPx, widthPx } = labels.images[id]!;
        return [id, predicted.get(id)!.map((p) => gridToOriginalXy(p, heightPx, widthPx, size))];
      })),
      truthYx: Object.fromEntries(testIds.map((id) => [id, labels.images[id]!.workingYx![String(size)]!.map(([y, x]) => [y, x])])),
      ...(ssl ? { sslPredictionsYx: Object.fromEntries(testIds.map((id) => [id, ssl.predicted.get(id)!])) } : {}),
    };
    const put = async (name: 'metrics' | 'predictions', value: unknown) => {
      const bytes = new TextEncoder().encode(JSON.stringify(value));
      const key = name === 'metrics' ? runKeys.metrics(runId, sha256Hex(bytes)) : runKeys.predictions(runId, sha256Hex(bytes));
      return store.put(key, bytes, { contentType: 'application/json' });
    };
    const [metricsRef, predictionsRef] = [await put('metrics', metrics), await put('predictions', predictions)];
    return {
      metrics: metricsRef,
      predictions: predictionsRef,
      ...(shape ? { shapeModel: shape.ref } : {}),
      summary: tpl?.summary ?? {},
      ...(ssl ? { sslSummary: ssl.summary } : {}),
      ...(pseudoReport ? { pseudoLabelSummary: summaryOf(pseudoReport.overall, pseudoReport.imageIds.length, pseudoUnit) } : {}),
      ...(tpl
        ? { mreMm: tpl.summary.A![tpl.headlineSet]!.mreMm, headlineSet: tpl.headlineSet, unit: tpl.unit }
        : { noMetrics: NO_METRICS_REASON }),
      backend: deps.backend(),
    };
  };
}

const SHAPE_PRIOR_SKIPPED = `fewer than ${SHAPE_PRIOR_MIN_LANDMARKS} landmarks or ${SHAPE_PRIOR_MIN_SHAPES} training shapes (template + pseudo-labels)`;

function postprocessOn(profile: Profile): boolean {
  const pp = postprocessOf(profile);
  return pp.tta.enabled || pp.shapePrior.enabled;
}

/** Builds the run's shape model and stores it (content-addressed) for `cc2d predict`; undefined when too few landmarks or shapes. */
async function storeShapeModel(
  store: ObjectStore, runId: string, templateId: string, profile: Profile, templateLandmarks: PointYX[], pseudoLabels: PointYX[][],
): Promise<{ model: ShapeModel; ref: ArtifactRef } | undefined> {
  const model = buildRunShapeModel(profile, templateLandmarks, pseudoLabels);
  if (!model) return undefined;
  const doc: ShapeModelDocument = { format: SHAPE_MODEL_FORMAT, inputSize: profile.inputSize, templateId, model };
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  return { model, ref: await store.put(runKeys.shapeModel(runId, sha256Hex(bytes)), bytes, { contentType: 'application/json' }) };
}
