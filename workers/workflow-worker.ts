/**
 * The workflow worker: runs `cc2dPipeline` (and nothing else) on the `cc2d-workflows` queue.
 * Workflows are bundled from workflows/index.ts; pass a pre-built bundle to share one across
 * several workers in a process (tests) or to skip bundling at start-up (production).
 */
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { WORKFLOW_TASK_QUEUE } from '../infra/config/names';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkflowWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  bundle?: WorkflowBundleWithSourceMap;
  identity?: string;
  taskQueue?: string;
}

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
}

const noop = (): void => undefined;
/** webpack's progress chatter is noise on a terminal with a progress bar. */
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m), log: noop };

export async function createWorkflowWorker(o: WorkflowWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue ?? WORKFLOW_TASK_QUEUE,
    workflowBundle: o.bundle ?? (await bundleWorkflows()),
    ...(o.identity !== undefined ? { identity: o.identity } : {}),
  });
}
