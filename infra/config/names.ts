/**
 * Wire names shared by workflows, workers, the CLI and `cc2d dev up`. ZERO imports on purpose:
 * workflow code (bundled into the Temporal sandbox) may import this module by value.
 * Renaming any of these breaks in-flight runs and stored histories.
 */

/** Default Temporal namespace of the project (CC2D_TEMPORAL_NAMESPACE overrides). */
export const DEFAULT_NAMESPACE = 'cc2d';

/** Task queue of the pipeline workflows (workflow tasks only; no activity runs on it). */
export const WORKFLOW_TASK_QUEUE = 'cc2d-workflows';
/** Task queue of the GPU_ACTIVITIES: training and pseudo-label matching (GPU worker, activity concurrency 1). */
export const GPU_TASK_QUEUE = 'cc2d-gpu';
/** Task queue of every other activity: ingestion, planning, evaluation, report, cleanup. */
export const CPU_TASK_QUEUE = 'cc2d-cpu';

export const TASK_QUEUES = {
  workflows: WORKFLOW_TASK_QUEUE,
  gpu: GPU_TASK_QUEUE,
  cpu: CPU_TASK_QUEUE,
} as const;

/**
 * Activity types served on the GPU task queue (training, matching, prediction); every other activity runs on the CPU queue.
 * The workflow's routing (workflows/activity-options.ts) is checked against this list at
 * compile time; the CLI uses it to tell which worker a pending activity waits for.
 */
export const GPU_ACTIVITIES = ['trainSelfSupervised', 'generatePseudoLabels', 'trainSupervised', 'trainRefiner', 'predictImages'] as const;
export type GpuActivityName = (typeof GPU_ACTIVITIES)[number];

/** The worker role (and so the task queue) an activity type runs on. */
export function activityRole(activityType: string): 'gpu' | 'cpu' {
  return (GPU_ACTIVITIES as readonly string[]).includes(activityType) ? 'gpu' : 'cpu';
}

/**
 * Custom search attributes. Each entry is structurally a `SearchAttributeKey` of
 * @temporalio/common (`{ name, type }` with the SDK's upper-case type), so workflows can pass
 * them to `upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.stage, value: 'ssl' }])` directly.
 * `cc2d dev up` registers all of them. Search attributes are plaintext on the server: never
 * put patient identifiers or other PHI in them.
 */
export const SEARCH_ATTRIBUTES = {
  runId: { name: 'Cc2dRunId', type: 'KEYWORD' },
  site: { name: 'Cc2dSite', type: 'KEYWORD' },
  datasetVersion: { name: 'Cc2dDatasetVersion', type: 'KEYWORD' },
  profile: { name: 'Cc2dProfile', type: 'KEYWORD' },
  stage: { name: 'Cc2dStage', type: 'KEYWORD' },
  status: { name: 'Cc2dStatus', type: 'KEYWORD' },
  mre: { name: 'Cc2dMre', type: 'DOUBLE' },
  progress: { name: 'Cc2dProgress', type: 'DOUBLE' },
  /** The promotion gate's outcome: promoted | kept | skipped. */
  promotion: { name: 'Cc2dPromotion', type: 'KEYWORD' },
} as const;

export type SearchAttributeId = keyof typeof SEARCH_ATTRIBUTES;

/** The same list in the spelling the `temporal` CLI uses (`--search-attribute Name=Keyword`). */
export const SEARCH_ATTRIBUTE_CLI_TYPES: Readonly<Record<'KEYWORD' | 'DOUBLE', 'Keyword' | 'Double'>> = {
  KEYWORD: 'Keyword',
  DOUBLE: 'Double',
};

/** The pipeline workflow's type name (wire API: visibility queries and schedules name it). */
export const PIPELINE_WORKFLOW_TYPE = 'cc2dPipeline';
/** The prediction workflow's type name (`cc2d predict`). */
export const PREDICT_WORKFLOW_TYPE = 'cc2dPredict';
/** The template-suggestion workflow's type name (`cc2d site suggest-template`). */
export const SUGGEST_TEMPLATE_WORKFLOW_TYPE = 'cc2dSuggestTemplate';

/** Id prefix of the site schedules (`cc2d schedule create --site S` creates `cc2d-site-S`). */
export const SCHEDULE_PREFIX = 'cc2d-site-';

export function scheduleIdOf(site: string): string {
  return `${SCHEDULE_PREFIX}${site}`;
}
