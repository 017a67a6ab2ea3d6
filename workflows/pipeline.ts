/**
 * `cc2dPipeline`: one CC2D run, ingest-or-reuse → plan → SSL → pseudo-label shards (fan-out)
 * → TPL → (refine, when the profile has it) → evaluate → report (the promotion gate, then
 * publishing). Every stage is an activity; the workflow passes only S3 keys, hashes, ids and
 * metrics. A run is published only when its lineage manifest is written, last.
 * After a cancellation or a failure the run's unpublished objects (checkpoints, finished stages)
 * are kept so the run can be resumed (`cc2d resume`); `cc2d cancel --purge` deletes them.
 * With `config.cache` (default), SSL, pseudo-labels and TPL are each first looked up in the
 * cross-run stage cache and reused from an earlier published run when their inputs are unchanged.
 */
import { isCancellation, patched, proxyActivities, setHandler, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { CpuActivities, GpuActivities } from '../activities';
import type { CacheStage, IngestOutput, LookupCacheInput, PipelineResult, PromotionDecision, PseudoLabelShard } from '../contracts/types';
import { GPU_TASK_QUEUE, SEARCH_ATTRIBUTES } from '../infra/config/names';
import type { PipelineInput } from '../infra/config/run-config';
import { cpuOptions, ingestOptions, lightOptions, matchingOptions, trainingOptions } from './activity-options';
import { progressQuery, runStages, stageProgressSignal } from './definitions';
import { StageTracker } from './stage-tracker';
import { plannedStepsOf } from './progress';

export async function cc2dPipeline(input: PipelineInput): Promise<PipelineResult> {
  const { config, profile, configHash } = input;
  const runId = workflowInfo().workflowId;
  const hb = config.heartbeatTimeoutSeconds;
  const queues = config.taskQueues;
  const ingest = proxyActivities<CpuActivities>(ingestOptions(hb, queues));
  const cpu = proxyActivities<CpuActivities>(cpuOptions(hb, queues));
  const light = proxyActivities<CpuActivities>(lightOptions(queues));
  const train = proxyActivities<GpuActivities>(trainingOptions(hb, queues));
  const match = proxyActivities<GpuActivities>(matchingOptions(hb, queues));

  // Refinement's share of the progress bar, and the bar shared by the cost model of the planned
  // steps: only in executions started with this code, since the fraction is upserted as a search
  // attribute at each stage's end. The ETA reads the planned steps in every execution (query
  // state, no command).
  const tracker = new StageTracker(runId, patched('refine-progress') ? runStages(profile.refine !== undefined) : undefined, plannedStepsOf(profile), patched('cost-progress'));
  setHandler(progressQuery, () => tracker.progress());
  setHandler(stageProgressSignal, (p) => tracker.onStageProgress(p));
  tracker.start(config.site, profile.name, queues?.gpu ?? GPU_TASK_QUEUE);

  try {
    const dataset: IngestOutput = await tracker.stage('ingest', () =>
      config.dataset.version !== undefined
        ? Promise.resolve({ datasetVersion: config.dataset.version, counts: {}, reused: true })
        : ingest.ingestDataset({
            datasetDir: config.dataset.dir!,
            // The refinement stage cuts its patches from a finer working size.
            sizes: profile.refine ? [profile.inputSize, profile.refine.inputSize] : [profile.inputSize],
            site: config.site,
            templateId: config.templateId,
            ...(config.dataset.layout !== undefined ? { layout: config.dataset.layout } : {}),
            ...(config.dataset.pixelSpacingMm !== undefined ? { pixelSpacingMm: config.dataset.pixelSpacingMm } : {}),
          }),
    );
    const { datasetVersion } = dataset;
    tracker.setDatasetVersion(datasetVersion);
    const plan = await tracker.stage('plan', () => cpu.planRun({ runId, datasetVersion, config, inputSize: profile.inputSize }));
    const { trainIds, shards } = plan;
    const common = { runId, datasetVersion, profile };

    // Stage cache: only in executions started with this code, so histories recorded before it replay.
    const cacheOn = patched('stage-cache') && config.cache !== false;
    const reusedFrom: Partial<Record<CacheStage, string>> = {};
    const backbone = config.backboneWeights ? { backboneWeights: config.backboneWeights } : {};
    const keyInput = { runId, datasetVersion, profile, seed: config.seed, trainIds, templateId: config.templateId, shardCount: shards.length, ...backbone };
    const lookup = async (stage: CacheStage, upstream: Pick<LookupCacheInput, 'sslWeights' | 'pseudoLabels'>) => {
      if (!cacheOn) return undefined;
      const found = await light.lookupCache({ stage, ...keyInput, ...upstream });
      if (found.hit) reusedFrom[stage] = found.hit.sourceRunId;
      return found;
    };
    const fromCache = async (stage: CacheStage, upstream: Pick<LookupCacheInput, 'sslWeights' | 'pseudoLabels'>) => (await lookup(stage, upstream))?.hit;

    // An SSL miss may name a shorter earlier run to continue from (same weights, fewer steps to train).
    const ssl = await tracker.stage('ssl', async () => {
      const found = await lookup('ssl', {});
      const continueFrom = found?.continueFrom ? { continueFrom: found.continueFrom } : {};
      return found?.hit?.train ?? train.trainSelfSupervised({ ...common, seed: config.seed, trainIds, ...backbone, ...continueFrom });
    });

    let shardsDone = 0;
    tracker.setShards(0, shards.length);
    const pseudoLabels = await tracker.stage('pseudo-labels', async () => {
      const cached = (await fromCache('pseudo-labels', { sslWeights: ssl.weights }))?.shards;
      if (cached) {
        tracker.setShards(shards.length, shards.length);
        return cached;
      }
      // allSettled, not all: when one shard fails, its siblings finish before cleanup may run.
      const settled = await Promise.allSettled(
        shards.map(async (ids, shardIndex) => {
          const shard = await match.generatePseudoLabels({
            ...common, sslWeights: ssl.weights, templateId: config.templateId, ids, trainIds, shardIndex, shardCount: shards.length,
          });
          tracker.setShards(++shardsDone, shards.length);
          return shard;
        }),
      );
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return settled.map((r) => (r as PromiseFulfilledResult<PseudoLabelShard>).value);
    });
    const pseudoLabelRefs = pseudoLabels.map((s) => s.labels);

    // A stage that filters its pseudo-labels by their round trip matches them with the SSL weights.
    const tplRoundTrip = (profile.tpl.maxRoundTrip ?? undefined) !== undefined ? { sslWeights: ssl.weights } : {};
    const tpl = await tracker.stage('tpl', async () =>
      (await fromCache('tpl', { pseudoLabels: pseudoLabelRefs, ...tplRoundTrip }))?.train ??
      train.trainSupervised({ ...common, seed: config.seed, trainIds, templateId: config.templateId, pseudoLabels: pseudoLabelRefs, ...backbone, ...tplRoundTrip }),
    );
    // Full-resolution refinement, when the profile has it. Not in the stage cache: it always runs.
    const refine = profile.refine !== undefined && patched('refine-stage')
      ? await tracker.stage('refine', () =>
          train.trainRefiner({
            ...common, seed: config.seed, trainIds, templateId: config.templateId, pseudoLabels: pseudoLabelRefs,
            ...((profile.refine?.maxRoundTrip ?? undefined) !== undefined ? { sslWeights: ssl.weights } : {}),
          }))
      : undefined;
    const reused = Object.keys(reusedFrom).length > 0 ? { reusedFrom } : {};
    const evaluation = await tracker.stage('evaluate', () =>
      cpu.evaluateModel({
        ...common, tplWeights: tpl.weights, sslWeights: ssl.weights, pseudoLabels: pseudoLabelRefs, templateId: config.templateId,
        testSplits: plan.testSplits, landmarkCount: plan.landmarkCount,
        ...(refine ? { refineWeights: refine.weights } : {}),
      }),
    );
    const scheduleId = workflowInfo().typedSearchAttributes.get({ name: 'TemporalScheduledById', type: 'KEYWORD' });
    // The report stage runs the gate just before publishing, so the report shows the decision;
    // histories recorded before that ran the gate as its own stage afterwards, and replay so.
    const gateInReport = patched('gate-in-report');
    // Decided once for the result and the report activity: a reused SSL stage is named by reusedFrom only.
    const sslContinued = ssl.continuedFrom && reusedFrom.ssl === undefined ? { sslContinuedFrom: ssl.continuedFrom } : {};
    const report = await tracker.stage('report', () =>
      light.writeReport({
        runId, pipeline: input, datasetVersion, datasetReused: dataset.reused,
        plan: {
          trainIds, testSplits: plan.testSplits, missingTestSplits: plan.missingTestSplits,
          landmarkCount: plan.landmarkCount, pixelSpacingMm: plan.pixelSpacingMm, shardCount: shards.length,
          ...(plan.landmarkNames ? { landmarkNames: plan.landmarkNames } : {}),
        },
        ssl, pseudoLabels, tpl, ...(refine ? { refine } : {}), evaluation, timings: tracker.stageTimings(),
        ...(scheduleId !== undefined ? { scheduleId } : {}),
        ...reused, ...sslContinued,
        ...(gateInReport ? { gate: config.minMre !== undefined ? { minMre: config.minMre } : {} } : {}),
      }),
    );
    // Cc2dMre holds millimetres only, so visibility queries and `--sort mre` never mix units; the
    // memo carries the headline in its unit (px when a scored image has no spacing) for listings.
    if (evaluation.mreMm !== undefined && patched('mre-unit-memo')) upsertMemo({ mre: evaluation.mreMm, mreUnit: evaluation.unit ?? 'mm' });
    // Histories recorded before the gate existed replay without it.
    const promotion = gateInReport
      ? report.promotion
      : patched('champion-gate') ? await tracker.stage('promote', () => promote(light, runId, config.minMre, config.site)) : undefined;
    if (promotion) {
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.promotion, value: promotion.outcome }]);
      upsertMemo({ promotion: promotion.outcome, promotionReason: promotion.reason });
    }
    tracker.finish('completed', evaluation.unit === 'px' ? undefined : evaluation.mreMm);
    return {
      runId, status: 'completed', datasetVersion, datasetReused: dataset.reused, configHash,
      ...(evaluation.mreMm !== undefined ? { mreMm: evaluation.mreMm } : {}),
      ...(evaluation.headlineSet !== undefined ? { headlineSet: evaluation.headlineSet } : {}),
      ...(evaluation.unit !== undefined ? { unit: evaluation.unit } : {}),
      ...(evaluation.noMetrics !== undefined ? { noMetrics: evaluation.noMetrics } : {}),
      metrics: evaluation.summary,
      ...reused,
      ...sslContinued,
      ...(evaluation.sslSummary ? { sslMetrics: evaluation.sslSummary } : {}),
      ...(evaluation.pseudoLabelSummary ? { pseudoLabelMetrics: evaluation.pseudoLabelSummary } : {}),
      reportKey: report.report.key, manifestKey: report.manifestKey,
      ...(promotion ? { promotion } : {}),
      artifacts: {
        sslWeights: ssl.weights, pseudoLabels: pseudoLabelRefs, tplWeights: tpl.weights, ...(refine ? { refineWeights: refine.weights } : {}),
        metrics: evaluation.metrics, predictions: evaluation.predictions, report: report.report,
        ...(report.reportHtml ? { reportHtml: report.reportHtml } : {}),
      },
    };
  } catch (err) {
    // Cancelled or failed: checkpoints and finished stages' results stay (unpublished) so
    // `cc2d resume` continues the run; `cc2d cancel --purge` removes them. The activities were
    // cancelled with WAIT_CANCELLATION_COMPLETED, so nothing writes after this point.
    tracker.finish(isCancellation(err) ? 'cancelled' : 'failed');
    throw err;
  }
}

/**
 * The promotion gate. Its failure (storage down past every retry) must not fail a run that is
 * already published: the run is then not promoted, with the reason, and can be promoted by hand.
 */
async function promote(light: CpuActivities, runId: string, minMre: number | undefined, site: string): Promise<PromotionDecision> {
  try {
    return await light.promoteRun({ runId, ...(minMre !== undefined ? { minMre } : {}) });
  } catch (err) {
    if (isCancellation(err)) throw err;
    const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    return { site, outcome: 'skipped', reason: `the promotion gate failed: ${cause}` };
  }
}
