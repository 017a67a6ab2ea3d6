/** The CPU worker: activity-only, on the `cc2d-cpu` queue (ingest, plan, evaluate, report, cleanup). */
import { Worker } from '@temporalio/worker';
import { createCpuActivities } from '../activities';
import { CPU_TASK_QUEUE } from '../infra/config/names';
import type { ActivityWorkerOptions } from './gpu-worker';

export async function createCpuWorker(o: ActivityWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue ?? CPU_TASK_QUEUE,
    activities: createCpuActivities(o.deps),
    // Evaluation runs TF inference; two at a time is plenty on a small host.
    maxConcurrentActivityTaskExecutions: o.maxConcurrentActivityTaskExecutions ?? 2,
    shutdownGraceTime: o.shutdownGraceTime ?? '10s',
    // Heartbeats reach the server at least every 10 s (default: 80 % of the heartbeat timeout),
    // so one long blocking TF step cannot push the gap past the timeout (reliability F9).
    maxHeartbeatThrottleInterval: '10s',
    ...(o.identity !== undefined ? { identity: o.identity } : {}),
  });
}
