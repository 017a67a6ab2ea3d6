/**
 * `writeReport` (CPU): the run's JSON report and its lineage manifest, published last.
 *
 * - `runs/<run>/report/report-<sha256>.json`: everything a reader (or the later HTML report)
 *   needs: config, resolved profile, dataset, template, splits covered, per-stage results and
 *   timings, metrics under both protocols, artifacts with their sha256.
 * - `runs/<run>/manifest.json` (publish-by-manifest, conditional create): every artifact's key,
 *   sha256 and size, plus lineage meta: dataset version, config hash, code version, backend and
 *   TF version of each stage, seeds. Its presence means "this run is published".
 */
import { Context } from '@temporalio/activity';
import { buildLineageManifest, publishExisting } from './publish-run';
import { DatasetReader } from './dataset-reader';
import type { ActivityDeps } from './deps';
import { withStorageRetry } from './failures';
import { runKeys, runPrefix } from './run-keys';
import { sha256Hex } from './training-loop';
import type { ArtifactRef, WriteReportInput, WriteReportOutput } from './types';

export const REPORT_FORMAT = 'cc2d-run-report-v1';

export function createWriteReport(deps: ActivityDeps) {
  return async function writeReport(input: WriteReportInput): Promise<WriteReportOutput> {
    const ctx = Context.current();
    const { runId, pipeline, ssl, tpl, evaluation } = input;
    const reader = new DatasetReader(deps.store, input.datasetVersion);
    const description = await reader.description();
    const metricsDetail = JSON.parse(new TextDecoder().decode(
      await withStorageRetry('get metrics', () => deps.store.get(evaluation.metrics.key, evaluation.metrics.sha256)),
    )) as unknown;

    const artifacts: Record<string, ArtifactRef> = {
      sslWeights: ssl.weights,
      tplWeights: tpl.weights,
      metrics: evaluation.metrics,
      predictions: evaluation.predictions,
      ...Object.fromEntries(input.pseudoLabels.map((s) => [`pseudoLabels[${s.shardIndex}]`, s.labels])),
    };
    const report = {
      format: REPORT_FORMAT,
      runId,
      ...(input.scheduleId !== undefined ? { scheduleId: input.scheduleId } : {}),
      site: pipeline.config.site,
      codeVersion: deps.codeVersion,
      configHash: pipeline.configHash,
      config: pipeline.config,
      profile: pipeline.profile,
      seed: pipeline.config.seed,
      template: { id: pipeline.config.templateId, choice: 'user-specified (not label-free: see spec §3/§4)' },
      dataset: {
        version: input.datasetVersion,
        reused: input.datasetReused,
        name: description.name,
        counts: description.counts,
        imageFormat: description.imageFormat,
        pixelSpacingMm: description.pixelSpacingMm,
        testIdsCovered: description.testIdsCovered,
        groundTruth: description.groundTruth,
        warnings: description.warnings,
      },
      plan: input.plan,
      backbone: 'VGG19 encoder trained from scratch (no ImageNet weights offline, spec §9)',
      stages: {
        ssl: { steps: ssl.steps, finalLoss: ssl.finalLoss, resumedFromStep: ssl.resumedFromStep, attempt: ssl.attempt, durationMs: ssl.durationMs, backend: ssl.backend },
        pseudoLabels: input.pseudoLabels.map((s) => ({ shard: s.shardIndex, count: s.count, backend: s.backend })),
        tpl: { steps: tpl.steps, finalLoss: tpl.finalLoss, resumedFromStep: tpl.resumedFromStep, attempt: tpl.attempt, durationMs: tpl.durationMs, backend: tpl.backend },
      },
      evaluation: {
        headline: { mreMm: evaluation.mreMm, set: evaluation.headlineSet, protocol: 'A' },
        protocols: {
          A: 'paper protocol: 384-grid style working grid, doubly truncated GT, mm per cell (spec §6.2)',
          B: 'clean protocol: prediction mapped back to original pixels vs untruncated mean GT, 0.1 mm/px (spec §6.3)',
        },
        summary: evaluation.summary,
        ...(evaluation.pseudoLabelSummary ? { pseudoLabelsOnTrain: evaluation.pseudoLabelSummary } : {}),
        missingTestSplits: input.plan.missingTestSplits,
        detail: metricsDetail,
      },
      timings: input.timings,
      artifacts,
    };
    const bytes = new TextEncoder().encode(JSON.stringify(report, null, 2));
    const key = runKeys.report(runId, sha256Hex(bytes));
    const reportRef = await withStorageRetry(`put ${key}`, () => deps.store.put(key, bytes, { contentType: 'application/json' }));

    const manifest = buildLineageManifest({
      runId, prefix: runPrefix(runId), artifacts: { ...artifacts, report: reportRef },
      lineage: {
        runId,
        site: pipeline.config.site,
        datasetVersion: input.datasetVersion,
        configHash: pipeline.configHash,
        codeVersion: deps.codeVersion,
        seeds: { run: pipeline.config.seed },
        templateId: pipeline.config.templateId,
        profile: pipeline.profile.name,
        backends: { ssl: { ...ssl.backend }, pseudoLabels: { ...input.pseudoLabels[0]!.backend }, tpl: { ...tpl.backend }, evaluate: { ...evaluation.backend }, report: { ...deps.backend() } },
        mreMm: evaluation.mreMm,
        reportKey: reportRef.key,
        ...(input.scheduleId !== undefined ? { scheduleId: input.scheduleId } : {}),
      },
    });
    const published = await withStorageRetry('publish run manifest', () => publishExisting(deps.store, runPrefix(runId), manifest));
    ctx.log.info('run published', { runId, manifestKey: published.manifestKey, report: reportRef.key });
    return { report: reportRef, manifestKey: published.manifestKey };
  };
}
