/**
 * The pipeline's activities, built by factories that close over their dependencies
 * (no module-level clients). Workers register `createGpuActivities` on the GPU queue, `createCpuActivities` on the
 * CPU queue (or `createActivities` for both); workflows use the types only.
 */
import { createIngestActivities } from './ingest-dataset';
import { createCleanupRun } from './cleanup-run';
import type { ActivityDeps } from './deps';
import { createEvaluateModel } from './evaluate-model';
import { activity } from './failures';
import { createGeneratePseudoLabels } from './generate-pseudo-labels';
import { createPlanRun } from './plan-run';
import { createLookupCache, createRecordSuggestedSsl } from './stage-cache';
import { createPromoteRun } from './promote-run';
import { createRankTemplates } from './rank-templates';
import { createPredictImages } from './predict-images';
import { createPublishPredictions } from './predict-publish';
import { createTrainSelfSupervised } from './train-self-supervised';
import { createTrainSupervised } from './train-supervised';
import { createTrainRefiner } from './train-refiner';
import { createWriteReport } from './write-report';

/** Training, matching and prediction: heavy TF work, one at a time per GPU worker. */
export function createGpuActivities(deps: ActivityDeps) {
  return {
    trainSelfSupervised: activity(createTrainSelfSupervised(deps)),
    generatePseudoLabels: activity(createGeneratePseudoLabels(deps)),
    trainSupervised: activity(createTrainSupervised(deps)),
    trainRefiner: activity(createTrainRefiner(deps)),
    predictImages: activity(createPredictImages(deps)),
  };
}

/** Ingestion, planning, stage-cache lookups, evaluation, report, the promotion gate, cleanup and publishing predictions. */
export function createCpuActivities(deps: ActivityDeps) {
  const { ingestDataset } = createIngestActivities({ store: deps.store });
  return {
    ingestDataset: activity(ingestDataset),
    planRun: activity(createPlanRun(deps)),
    evaluateModel: activity(createEvaluateModel(deps)),
    writeReport: activity(createWriteReport(deps)),
    promoteRun: activity(createPromoteRun(deps)),
    cleanupRun: activity(createCleanupRun(deps)),
    lookupCache: activity(createLookupCache(deps)),
    recordSuggestedSsl: activity(createRecordSuggestedSsl(deps)),
    publishPredictions: activity(createPublishPredictions(deps)),
    rankTemplates: activity(createRankTemplates(deps)),
  };
}

export function createActivities(deps: ActivityDeps) {
  return { ...createGpuActivities(deps), ...createCpuActivities(deps) };
}

export type GpuActivities = ReturnType<typeof createGpuActivities>;
export type CpuActivities = ReturnType<typeof createCpuActivities>;
export type Activities = ReturnType<typeof createActivities>;
