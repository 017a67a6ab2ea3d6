/**
 * `writeReport` (CPU): the run's reports and lineage manifest; the manifest is written LAST, so
 * a run is visible as published only when everything it lists is in place.
 *
 * 1. `runs/<run>/report/report-<sha256>.json`: config, resolved profile, dataset (with its
 *    landmark names), template, splits covered, per-stage results and timings, metrics under both
 *    protocols (with the per-landmark and per-image detail) in their unit, or why there are none,
 *    loss curves' keys, lineage.
 * 2. `runs/<run>/report/report.html` (infra/report: tables, SDR curve, loss curves, overlays of
 *    the best/median/worst test image; without metrics the predictions of every image and a few
 *    overlays of predicted points); fixed key, served by the dashboard.
 *    With `gate`, the promotion gate runs first (infra/models: the run against its site's champion,
 *    on what the manifest is about to say) and both reports show its decision: the run is
 *    published once, already decided. Crowning a run a moment before its manifest exists is safe:
 *    the gate of another run waits for a champion's manifest, and a retry reuses the recorded decision.
 * 3. `runs/<run>/manifest.json`: every artifact's key, sha256 and size, plus the lineage meta
 *    (dataset version, config hash, code version, backend + TF versions, seeds, stages reused
 *    from earlier runs).
 * 4. Stage cache entries (`cache/<stage>/<key>.json`) for the stages the run computed itself.
 * Deterministic for identical input (createdAt = the evaluate stage's end), so a retried
 * activity rewrites identical bytes and the conditional manifest create succeeds idempotently.
 */
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { MetricsDocumentSchema, PredictionsDocumentSchema, REPORT_FORMAT } from '../contracts/documents';
import type { ArtifactRef, CacheStage, WriteReportInput, WriteReportOutput } from '../contracts/types';
import type { MetricsDocument, PromotionDocument } from '../contracts/documents';
import { DATASET_FILES, datasetPrefix } from '../infra/dataset/published';
import { DatasetReader } from '../infra/dataset/reader';
import { scoredRunOf } from '../infra/models/champion';
import { buildRunReportInput, writeRunReportHtml, type Lineage, type PredictedImage } from '../infra/report';
import { sha256Hex } from '../infra/storage/hash';
import { runKeys, runPrefix } from '../infra/storage/keys';
import { readJson } from '../infra/storage/read-json';
import { NO_METRICS_REASON } from '../ml/metrics';
import type { ActivityDeps } from './deps';
import { isTransientStorage, retryingStore, withStorageRetry } from './failures';
import { decidePromotion, promotionDecisionOf, recordedPromotion } from './promote-run';
import { buildLineageManifest, publishExisting } from './publish-run';
import { recordRunStages } from './stage-cache';

/** The stage that produced a named artifact of the report, when it is one the stage cache can reuse. */
function cacheStageOf(name: string): CacheStage | undefined {
  if (name === 'sslWeights' || name === 'sslLossLog') return 'ssl';
  if (name === 'tplWeights' || name === 'tplLossLog') return 'tpl';
  return name.startsWith('pseudoLabels') ? 'pseudo-labels' : undefined;
}

/**
 * The gate on the run as its manifest will describe it. A decision already recorded (a retried
 * attempt) is reused, so the reports of every attempt are identical. A gate that fails for a
 * lasting reason (not storage being down) leaves the run unpromoted, with the reason.
 */
async function gateBeforePublishing(deps: ActivityDeps, input: WriteReportInput, metrics: MetricsDocument): Promise<PromotionDocument> {
  const { runId, evaluation, pipeline } = input;
  const recorded = await recordedPromotion(deps.store, runId);
  if (recorded) return recorded;
  const scored = evaluation.mreMm !== undefined;
  const candidate = {
    runId, site: pipeline.config.site, datasetVersion: input.datasetVersion,
    ...(scored ? { mre: evaluation.mreMm!, unit: evaluation.unit ?? 'mm' } : {}),
    scored: scored ? scoredRunOf(runId, metrics) : undefined,
  };
  const minMre = input.gate?.minMre;
  try {
    return await decidePromotion(deps, { runId, ...(minMre !== undefined ? { minMre } : {}) }, candidate);
  } catch (err) {
    if (isTransientStorage(err)) throw err;
    return { runId, site: pipeline.config.site, outcome: 'skipped', reason: `the promotion gate failed: ${(err as Error).message}`, decidedAt: new Date().toISOString() };
  }
}

export function createWriteReport(deps: ActivityDeps) {
  return async function writeReport(input: WriteReportInput): Promise<WriteReportOutput> {
    const ctx = Context.current();
    const { runId, pipeline, ssl, tpl, evaluation } = input;
    const { config, profile } = pipeline;
    const prefix = runPrefix(runId);
    const store = retryingStore(deps.store);
    const reader = new DatasetReader(store, input.datasetVersion);
    // Loss logs are checked by the report builder, which drops a malformed one with a note.
    const [description, labels, metrics, predictions, sslLoss, tplLoss, refineLoss] = await Promise.all([
      reader.description(), reader.labels(), readJson(store, evaluation.metrics, MetricsDocumentSchema), readJson(store, evaluation.predictions, PredictionsDocumentSchema),
      readJson(store, ssl.lossLog, z.unknown()), readJson(store, tpl.lossLog, z.unknown()),
      input.refine ? readJson(store, input.refine.lossLog, z.unknown()) : undefined,
    ]);
    const createdAt = input.timings[input.timings.length - 1]?.endedAt ?? new Date(0).toISOString();

    const artifacts: Record<string, ArtifactRef> = {
      sslWeights: ssl.weights,
      sslLossLog: ssl.lossLog,
      tplWeights: tpl.weights,
      tplLossLog: tpl.lossLog,
      ...(input.refine ? { refineWeights: input.refine.weights, refineLossLog: input.refine.lossLog } : {}),
      metrics: evaluation.metrics,
      predictions: evaluation.predictions,
      ...(evaluation.shapeModel ? { shapeModel: evaluation.shapeModel } : {}),
      ...Object.fromEntries(input.pseudoLabels.map((s) => [`pseudoLabels${s.shardIndex + 1}of${s.shardCount}`, s.labels])),
    };
    const reusedFrom = input.reusedFrom && Object.keys(input.reusedFrom).length > 0 ? input.reusedFrom : undefined;
    // SSL trained from an earlier run's checkpoint (stage-cache continuation): the same weights, but the lineage names it.
    // Decided by the workflow (workflows/pipeline.ts). A writeReport already scheduled by older
    // workflow code when a worker is upgraded lacks the field: that one report omits the line.
    const sslContinued = input.sslContinuedFrom ? { sslContinuedFrom: input.sslContinuedFrom } : {};
    const testIdsCovered = Object.fromEntries(Object.entries(input.plan.testSplits));
    const lineageBase = {
      datasetVersion: input.datasetVersion,
      datasetReused: input.datasetReused,
      configHash: pipeline.configHash,
      codeVersion: deps.codeVersion,
      backend: { ...tpl.backend },
      seeds: { run: config.seed },
      templateId: config.templateId,
      imageFormat: description.imageFormat,
      ...(config.backboneWeights
        ? { backboneInit: 'user-supplied' as const, backboneWeights: `sha256 ${config.backboneWeights.sha256}` }
        : { backboneInit: 'from scratch' as const }),
      profile: profile.name,
      site: config.site,
      inputSize: profile.inputSize,
      pixelSpacingMm: description.pixelSpacingMm,
      trainIds: input.plan.trainIds,
      testIdsCovered,
      missingTestSplits: input.plan.missingTestSplits,
      ...(input.scheduleId !== undefined ? { scheduleId: input.scheduleId } : {}),
      ...(reusedFrom ? { reusedFrom } : {}),
      ...sslContinued,
      config: { config, profile },
      timings: input.timings,
    };

    const promotion = input.gate ? await gateBeforePublishing(deps, input, metrics) : undefined;
    // Both reports show the decision and when it was taken.
    const promotionShown = promotion ? { ...promotionDecisionOf(promotion), decidedAt: promotion.decidedAt } : undefined;

    // 1. JSON report.
    const report = {
      format: REPORT_FORMAT,
      runId,
      createdAt,
      lineage: { ...lineageBase, backends: { ssl: ssl.backend, pseudoLabels: input.pseudoLabels.map((s) => s.backend), tpl: tpl.backend, evaluate: evaluation.backend } },
      dataset: {
        name: description.name, kind: description.kind, counts: description.counts, groundTruth: description.groundTruth, warnings: description.warnings,
        landmarkNames: labels.landmarkNames, spacing: description.spacing,
      },
      plan: input.plan,
      stages: {
        ssl: { steps: ssl.steps, finalLoss: ssl.finalLoss, resumedFromStep: ssl.resumedFromStep, ...sslContinued, attempt: ssl.attempt, durationMs: ssl.durationMs },
        pseudoLabels: input.pseudoLabels.map((s) => ({ shard: s.shardIndex, count: s.count })),
        tpl: {
          steps: tpl.steps, finalLoss: tpl.finalLoss, resumedFromStep: tpl.resumedFromStep, attempt: tpl.attempt, durationMs: tpl.durationMs,
          ...(tpl.leftOutLabels ? { leftOutLabels: tpl.leftOutLabels } : {}),
        },
        ...(input.refine ? { refine: {
          steps: input.refine.steps, finalLoss: input.refine.finalLoss, resumedFromStep: input.refine.resumedFromStep, attempt: input.refine.attempt, durationMs: input.refine.durationMs,
          ...(input.refine.leftOutLabels ? { leftOutLabels: input.refine.leftOutLabels } : {}),
        } } : {}),
      },
      evaluation: {
        ...(evaluation.mreMm !== undefined
          ? { headline: { mreMm: evaluation.mreMm, set: evaluation.headlineSet, protocol: 'A', unit: evaluation.unit ?? 'mm' } }
          : { noMetrics: evaluation.noMetrics ?? NO_METRICS_REASON }),
        protocols: {
          A: 'paper: prediction on the working grid vs the doubly truncated GT, mm per grid cell (docs/method.md#protocol-a)',
          B: 'clean: prediction mapped back to original pixels vs the untruncated mean GT (docs/method.md#protocol-b)',
        },
        summary: evaluation.summary,
        ...(evaluation.sslSummary
          ? { sslStage: { stage: 'ssl', description: 'CC2D-SSL: the SSL stage alone, the test images matched against the template by cascade matching (no TPL)', summary: evaluation.sslSummary } }
          : {}),
        ...(evaluation.pseudoLabelSummary ? { pseudoLabelsOnTrain: evaluation.pseudoLabelSummary } : {}),
        detail: metrics,
      },
      ...(promotionShown ? { promotion: promotionShown } : {}),
      artifacts,
    };
    const jsonBytes = new TextEncoder().encode(JSON.stringify(report, null, 2));
    const jsonKey = runKeys.report(runId, sha256Hex(jsonBytes));
    const reportRef = await withStorageRetry(`put ${jsonKey}`, () => deps.store.put(jsonKey, jsonBytes, { contentType: 'application/json' }));
    artifacts.report = reportRef;

    // 2. HTML report. A renderer failure must not cost the run its results: it is logged and
    //    the run is published without the HTML page (the JSON report has everything).
    const lineage: Lineage = {
      ...lineageBase,
      artifacts: Object.entries(artifacts).map(([name, a]) => ({ name, key: a.key, sha256: a.sha256, size: a.size })),
    };
    // Documents from before sites carry the test images' predictions only, in grid cells.
    const predictedImages: PredictedImage[] = Object.entries(predictions.predictionsXyPx ?? {}).map(([id, xyPx]) => ({
      id, split: labels.images[id]?.split ?? 'train', xyPx, spacingMm: labels.images[id]?.spacingMm ?? null,
    }));
    let reportHtml: ArtifactRef | undefined;
    try {
      const reportInput = await buildRunReportInput({
        runId, createdAt, lineage,
        landmarkNames: labels.landmarkNames,
        datasetKind: description.kind,
        ...(metrics.unit ? { unit: metrics.unit } : {}),
        predictedImages,
        errors: metrics.errors,
        ...(metrics.sslStage ? { sslErrors: metrics.sslStage.errors } : {}),
        gridSize: predictions.gridSize,
        predictionsYx: predictions.predictionsYx,
        truthYx: predictions.truthYx,
        displayAspect: (id) => (labels.images[id] ? labels.images[id]!.widthPx / labels.images[id]!.heightPx : 1),
        loadImage: async (id) => store.get(`${datasetPrefix(input.datasetVersion)}/${DATASET_FILES.image(profile.inputSize, id)}`),
        losses: { ssl: sslLoss, tpl: tplLoss, ...(refineLoss !== undefined ? { refine: refineLoss } : {}) },
        ...(metrics.pseudoLabels ? { pseudoLabelErrors: metrics.pseudoLabels.images } : {}),
        warn: (m) => ctx.log.warn(m),
        ...(promotionShown ? { promotion: promotionShown } : {}),
        ...(input.refine?.leftOutLabels ? { refineLeftOutLabels: input.refine.leftOutLabels } : {}),
        ...(tpl.leftOutLabels ? { tplLeftOutLabels: tpl.leftOutLabels } : {}),
      });
      const html = await withStorageRetry('put report.html', () => writeRunReportHtml(deps.store, prefix, reportInput));
      reportHtml = { key: html.key, sha256: html.sha256, size: html.size };
      artifacts.reportHtml = reportHtml;
    } catch (err) {
      if (isTransientStorage(err)) throw err;
      ctx.log.error('HTML report not rendered; publishing the run without it', { error: (err as Error).message });
    }

    // 3. Lineage manifest, last. A reused stage's artifacts stay in (and are listed with) their source run.
    const own: Record<string, ArtifactRef> = {};
    const reused: Record<string, { runId: string; ref: ArtifactRef }> = {};
    for (const [name, ref] of Object.entries(artifacts)) {
      const stage = cacheStageOf(name);
      const source = stage !== undefined ? reusedFrom?.[stage] : undefined;
      if (source !== undefined) reused[name] = { runId: source, ref };
      else own[name] = ref;
    }
    const manifest = buildLineageManifest({
      runId, prefix, artifacts: own, reused,
      lineage: {
        runId, site: config.site, datasetVersion: input.datasetVersion, configHash: pipeline.configHash, codeVersion: deps.codeVersion,
        seeds: { run: config.seed }, templateId: config.templateId, profile: profile.name,
        backends: { ssl: ssl.backend, pseudoLabels: input.pseudoLabels.map((s) => s.backend), tpl: tpl.backend, evaluate: evaluation.backend, report: deps.backend() },
        ...(evaluation.mreMm !== undefined ? { mreMm: evaluation.mreMm, headlineSet: evaluation.headlineSet, unit: evaluation.unit ?? 'mm' } : { noMetrics: evaluation.noMetrics ?? NO_METRICS_REASON }),
        reportKey: reportRef.key, ...(reportHtml ? { reportHtmlKey: reportHtml.key } : {}),
        ...(input.scheduleId !== undefined ? { scheduleId: input.scheduleId } : {}),
        ...(reusedFrom ? { reusedFrom } : {}),
        ...sslContinued,
      },
    });
    const published = await withStorageRetry('publish run manifest', () => publishExisting(deps.store, prefix, manifest));
    ctx.log.info('run published', { runId, manifestKey: published.manifestKey, report: reportRef.key });

    // 4. Stage cache entries for the stages this run computed (only a published run's stages may be reused).
    try {
      const recorded = await recordRunStages(deps, input);
      ctx.log.info('stage cache updated', { runId, ...recorded });
    } catch (err) {
      if (isTransientStorage(err)) throw err;
      ctx.log.warn('stage cache not updated; the run is published', { runId, error: (err as Error).message });
    }
    return {
      report: reportRef, ...(reportHtml ? { reportHtml } : {}), manifestKey: published.manifestKey,
      ...(promotion ? { promotion: promotionDecisionOf(promotion) } : {}),
    };
  };
}
