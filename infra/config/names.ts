/**
 * Wire names shared by workflows, workers, the CLI and `cc2d dev up`. ZERO imports on purpose:
 * workflow code (bundled into the Temporal sandbox) may import this module by value.
 * Renaming any of these breaks in-flight runs and stored histories.
 */

/** Default Temporal namespace of the project (CC2D_TEMPORAL_NAMESPACE overrides). */
export const DEFAULT_NAMESPACE = 'cc2d';

/** Task queue of the pipeline workflows (and light activities run next to them). */
export const WORKFLOW_TASK_QUEUE = 'cc2d-workflows';
/** Task queue of the GPU-bound training activities (GPU worker, activity concurrency 1). */
export const GPU_TASK_QUEUE = 'cc2d-gpu';
/** Task queue of CPU activities (ingestion, pseudo-labels, evaluation, reports). */
export const CPU_TASK_QUEUE = 'cc2d-cpu';

export const TASK_QUEUES = {
  workflows: WORKFLOW_TASK_QUEUE,
  gpu: GPU_TASK_QUEUE,
  cpu: CPU_TASK_QUEUE,
} as const;

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
} as const;

export type SearchAttributeId = keyof typeof SEARCH_ATTRIBUTES;

/** The same list in the spelling the `temporal` CLI uses (`--search-attribute Name=Keyword`). */
export const SEARCH_ATTRIBUTE_CLI_TYPES: Readonly<Record<'KEYWORD' | 'DOUBLE', 'Keyword' | 'Double'>> = {
  KEYWORD: 'Keyword',
  DOUBLE: 'Double',
};
