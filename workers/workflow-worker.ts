/**
 * The workflow worker: runs `cc2dPipeline` and `cc2dPredict` (and nothing else) on the `cc2d-workflows` queue.
 * Workflows are bundled from workflows/index.ts; pass a pre-built bundle to share one across
 * several workers in a process (tests) or to skip bundling at start-up (production).
 */
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { DataConverter } from '@temporalio/common';
import { WORKFLOW_TASK_QUEUE } from '../infra/config/names';
import { ENCODED_FAILURE_BUNDLE_MARKER, temporalDataConverter } from '../infra/temporal/connect';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkflowWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  bundle?: WorkflowBundleWithSourceMap;
  identity?: string;
  taskQueue?: string;
  /** Default: `temporalDataConverter()` (payload encryption when a key is configured). */
  dataConverter?: DataConverter;
}

/**
 * With payload encryption on, the encoded failure converter is bundled too: failures raised
 * inside the workflow sandbox are converted there, not by the worker's data converter.
 */
export function bundleWorkflows(workflowsPath = WORKFLOWS_PATH, dataConverter = temporalDataConverter()): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath,
    logger: quietBundlerLogger,
    ...(dataConverter?.failureConverterPath ? { failureConverterPath: dataConverter.failureConverterPath } : {}),
  });
}

const noop = (): void => undefined;
/** webpack's progress chatter is noise on a terminal with a progress bar. */
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m), log: noop };

export async function createWorkflowWorker(o: WorkflowWorkerOptions): Promise<Worker> {
  const dataConverter = o.dataConverter ?? temporalDataConverter();
  const workflowBundle = o.bundle ?? (await bundleWorkflows(WORKFLOWS_PATH, dataConverter));
  if (dataConverter?.failureConverterPath && !workflowBundle.code.includes(ENCODED_FAILURE_BUNDLE_MARKER)) {
    // Its workflow failures would reach history in clear text.
    throw new Error('payload encryption is on but the workflow bundle was built without it; build it with bundleWorkflows() after setting the payload key');
  }
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue ?? WORKFLOW_TASK_QUEUE,
    workflowBundle,
    ...(dataConverter ? { dataConverter } : {}),
    ...(o.identity !== undefined ? { identity: o.identity } : {}),
  });
}
