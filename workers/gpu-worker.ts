/** The GPU worker: activity-only, on the `cc2d-gpu` queue, one activity at a time. */
import type { Worker } from '@temporalio/worker';
import { createActivityWorker, type ActivityWorkerOptions } from './activity-worker';

export type { ActivityWorkerOptions } from './activity-worker';

export function createGpuWorker(o: ActivityWorkerOptions): Promise<Worker> {
  return createActivityWorker('gpu', o);
}
