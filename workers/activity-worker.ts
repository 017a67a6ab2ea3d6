/**
 * Activity-only workers, one per queue role: `gpu` (training and matching, one activity at a
 * time: they fill the accelerator) and `cpu` (ingest, plan, evaluate, report, cleanup). The TF
 * backend is chosen by infra/tf-backend.ts before activities are created.
 */
import type { DataConverter } from '@temporalio/common';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createCpuActivities, createGpuActivities } from '../activities';
import type { ActivityDeps } from '../activities/deps';
import { CPU_TASK_QUEUE, GPU_TASK_QUEUE } from '../infra/config/names';
import { temporalDataConverter } from '../infra/temporal/connect';

export type ActivityWorkerRole = 'gpu' | 'cpu';

export interface ActivityWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  deps: ActivityDeps;
  identity?: string;
  /** Default cc2d-gpu / cc2d-cpu (a run config may route a site to a dedicated pool). */
  taskQueue?: string;
  /** Default 1 on the GPU queue, 2 on the CPU queue. */
  maxConcurrentActivityTaskExecutions?: number;
  /** How long running activities may finish after shutdown starts before they are cancelled (they then checkpoint). */
  shutdownGraceTime?: string;
  /** Default: `temporalDataConverter()` (payload encryption when a key is configured). */
  dataConverter?: DataConverter;
}

const ROLES = {
  gpu: { queue: GPU_TASK_QUEUE, activities: createGpuActivities, concurrency: 1 },
  // Evaluation runs TF inference; two at a time is plenty on a small host.
  cpu: { queue: CPU_TASK_QUEUE, activities: createCpuActivities, concurrency: 2 },
} as const;

export async function createActivityWorker(role: ActivityWorkerRole, o: ActivityWorkerOptions): Promise<Worker> {
  const r = ROLES[role];
  const dataConverter = o.dataConverter ?? temporalDataConverter();
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue ?? r.queue,
    activities: r.activities(o.deps),
    maxConcurrentActivityTaskExecutions: o.maxConcurrentActivityTaskExecutions ?? r.concurrency,
    shutdownGraceTime: o.shutdownGraceTime ?? '10s',
    // Heartbeats reach the server at least every 10 s (default: 80 % of the heartbeat timeout),
    // so one long blocking TF step cannot push the gap past the timeout.
    maxHeartbeatThrottleInterval: '10s',
    ...(o.identity !== undefined ? { identity: o.identity } : {}),
    ...(dataConverter ? { dataConverter } : {}),
  });
}
