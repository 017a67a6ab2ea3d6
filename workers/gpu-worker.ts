/**
 * The GPU worker: activity-only, on the `cc2d-gpu` queue, one activity at a time (training and
 * matching fill the accelerator). The TF backend is chosen by infra/tf-backend.ts (native
 * tensorflow; a tfjs-node-gpu build on GPU hosts) before activities are created.
 */
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createGpuActivities } from '../activities';
import type { ActivityDeps } from '../activities/deps';
import { GPU_TASK_QUEUE } from '../infra/config/names';

export interface ActivityWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  deps: ActivityDeps;
  identity?: string;
  /** Default cc2d-gpu / cc2d-cpu (a run config may route a site to a dedicated pool). */
  taskQueue?: string;
  /** Default 1 on the GPU queue. */
  maxConcurrentActivityTaskExecutions?: number;
  /** How long running activities may finish after shutdown starts before they are cancelled (they then checkpoint). */
  shutdownGraceTime?: string;
}

export async function createGpuWorker(o: ActivityWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue ?? GPU_TASK_QUEUE,
    activities: createGpuActivities(o.deps),
    maxConcurrentActivityTaskExecutions: o.maxConcurrentActivityTaskExecutions ?? 1,
    shutdownGraceTime: o.shutdownGraceTime ?? '10s',
    // Heartbeats reach the server at least every 10 s (default: 80 % of the heartbeat timeout),
    // so one long blocking TF step cannot push the gap past the timeout (reliability F9).
    maxHeartbeatThrottleInterval: '10s',
    ...(o.identity !== undefined ? { identity: o.identity } : {}),
  });
}
