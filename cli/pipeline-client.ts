/**
 * Client-side helpers of the pipeline commands (run, status, runs, cancel, rerun, eval,
 * schedule): preflight validation, starting a run with its search attributes, reading progress
 * and visibility, live workers. No pipeline logic: the workflow and activities own that.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import proto from '@temporalio/proto';
import { DatasetSplitSchema } from '../contracts/documents';
import type { PipelineProgress, PipelineResult } from '../contracts/types';
import {
  buildPipelineInput,
  DEFAULT_DATASET_DIR,
  checkConfigAgainstSplits,
  type DatasetSplits,
  type PipelineInput,
  type RunConfig,
} from '../infra/config/run-config';
import { CPU_TASK_QUEUE, GPU_TASK_QUEUE, SEARCH_ATTRIBUTES as SA, WORKFLOW_TASK_QUEUE } from '../infra/config/names';
import type { StackSettings } from '../infra/config/stack';
import { stat } from 'node:fs/promises';
import { detectDatasetLayout } from '../infra/dataset/detect-layout';
import { discoverLayout } from '../infra/dataset/layout';
import { siteSplits } from '../infra/dataset/site/ingest-site';
import { DATASET_FILES, datasetPrefix } from '../infra/dataset/published';
import { InvalidConfigError, UserError } from '../infra/errors';
import { NotFoundError } from '../infra/storage/object-store';
import { readJson } from '../infra/storage/read-json';
import { createS3Store } from '../infra/storage/s3-store';
import { queuePollers, timestampMs } from '../infra/temporal/pollers';
import type { cc2dPipeline } from '../workflows';
import { PIPELINE_WORKFLOW_TYPE, progressQuery } from '../workflows/definitions';
import type { QueueRole } from '../workers/local';

/** The dataset's splits, from the folder layout or the published version's split.json. */
export async function datasetSplits(config: RunConfig, settings: StackSettings): Promise<DatasetSplits> {
  if (config.dataset.dir !== undefined) {
    const layout = config.dataset.layout ?? (await detectDatasetLayout(config.dataset.dir));
    // Say what the folder lacks, not that the template is missing from an empty split.
    if (layout === undefined) {
      const exists = await stat(config.dataset.dir).then((st) => st.isDirectory(), () => false);
      throw new InvalidConfigError(`invalid run config:\n  - config.dataset.dir: ${config.dataset.dir} ${exists ? 'has neither images/ (a site folder) nor RawImage/ (the ISBI 2015 layout)' : 'is not a folder'} (from --dataset, the config file, ISBI_DIR or the default ${DEFAULT_DATASET_DIR})`);
    }
    if (layout === 'site') {
      return siteSplits(config.dataset.dir, config.templateId, config.dataset.pixelSpacingMm);
    }
    const isbi = await discoverLayout(config.dataset.dir);
    const splits: DatasetSplits = {};
    for (const e of isbi.entries) (splits[e.split] ??= []).push(e.id);
    return splits;
  }
  const store = createS3Store(settings);
  const key = `${datasetPrefix(config.dataset.version!)}/${DATASET_FILES.split}`;
  try {
    return await readJson(store, key, DatasetSplitSchema);
  } catch (err) {
    if (err instanceof NotFoundError) throw new InvalidConfigError(`invalid run config:\n  - config.dataset.version: no published dataset "${config.dataset.version}" (${key} not found)`);
    throw err;
  } finally {
    store.destroy();
  }
}

/** Validates a config completely (schema already done) against its dataset, BEFORE any workflow starts. */
export async function preflight(config: RunConfig, settings: StackSettings): Promise<PipelineInput> {
  const input = buildPipelineInput(config);
  checkConfigAgainstSplits(config, await datasetSplits(config, settings));
  return input;
}

export function newRunId(site: string, now = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `cc2d-${site}-${ts}-${randomBytes(2).toString('hex')}`;
}

export function initialSearchAttributes(runId: string, input: PipelineInput) {
  return [
    { key: SA.runId, value: runId },
    { key: SA.site, value: input.config.site },
    { key: SA.profile, value: input.profile.name },
    { key: SA.stage, value: 'queued' },
    { key: SA.status, value: 'running' },
    { key: SA.progress, value: 0 },
    ...(input.config.dataset.version !== undefined ? [{ key: SA.datasetVersion, value: input.config.dataset.version }] : []),
  ];
}

export async function startRun(
  client: Client,
  input: PipelineInput,
  runId = newRunId(input.config.site),
  workflowTaskQueue = WORKFLOW_TASK_QUEUE,
): Promise<WorkflowHandle<typeof cc2dPipeline>> {
  try {
    return await client.workflow.start<typeof cc2dPipeline>(PIPELINE_WORKFLOW_TYPE, {
      taskQueue: workflowTaskQueue,
      workflowId: runId,
      args: [input],
      typedSearchAttributes: initialSearchAttributes(runId, input),
      // A run id names one run for good: a new run under a finished run's id would write into
      // its published folder (its report first) before failing at the manifest.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new UserError(`a run with id ${runId} already exists: give another --run-id (or none), or continue a cancelled or failed one with cc2d resume ${runId}`);
    }
    throw err;
  }
}

const { TaskQueueType } = proto.temporal.api.enums.v1;

export const QUEUE_OF_ROLE: Record<QueueRole, { name: string; type: proto.temporal.api.enums.v1.TaskQueueType }> = {
  workflows: { name: WORKFLOW_TASK_QUEUE, type: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW },
  gpu: { name: GPU_TASK_QUEUE, type: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY },
  cpu: { name: CPU_TASK_QUEUE, type: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY },
};

export { timestampMs };

export async function livePollers(client: Client, role: QueueRole, queueName?: string): Promise<string[]> {
  const q = QUEUE_OF_ROLE[role];
  return queuePollers(client, queueName ?? q.name, q.type);
}

/** Roles with no live poller. */
export async function missingRoles(client: Client, roles: readonly QueueRole[], queues: Partial<Record<QueueRole, string>> = {}): Promise<QueueRole[]> {
  const out: QueueRole[] = [];
  for (const r of roles) if ((await livePollers(client, r, queues[r])).length === 0) out.push(r);
  return out;
}

export async function queryProgress(handle: WorkflowHandle): Promise<PipelineProgress | undefined> {
  try {
    return await handle.query(progressQuery);
  } catch {
    return undefined;
  }
}

/**
 * The description of run `runId` (its latest execution); a UserError naming the run and the
 * namespace when there is none, so the commands that look a run up in Temporal (status, eval,
 * resume, cancel, rerun) print one line and exit 2 as compare and report do for an unpublished run.
 */
export async function describeRun(client: Client, runId: string): Promise<WorkflowExecutionDescription> {
  try {
    return await client.workflow.getHandle(runId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UserError(`run ${runId} not found in Temporal namespace ${client.options.namespace}`);
    throw err;
  }
}

/** The pipeline input of a run, from the first event of its history. */
export async function runInput(client: Client, runId: string): Promise<PipelineInput> {
  const handle = client.workflow.getHandle(runId);
  const history = await handle.fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payloads = started?.input?.payloads;
  if (!payloads || payloads.length === 0) throw new UserError(`run ${runId}: its start event has no input`);
  // fetchHistory() returns payloads as stored: encrypted when payload encryption is on.
  return decodeFromPayloadsAtIndex<PipelineInput>(client.options.loadedDataConverter, 0, payloads);
}

export type RunResult = PipelineResult;

/** Typed search attributes of a described run as a flat object. */
export function searchAttributesOf(desc: { typedSearchAttributes: { get: (k: never) => unknown } }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [id, key] of Object.entries(SA)) {
    const v = desc.typedSearchAttributes.get(key as never);
    if (v !== undefined) out[id] = v;
  }
  return out;
}
