/** The CPU worker: activity-only, on the `cc2d-cpu` queue (ingest, plan, evaluate, report, cleanup). */
import type { Worker } from '@temporalio/worker';
import { createActivityWorker, type ActivityWorkerOptions } from './activity-worker';

export function createCpuWorker(o: ActivityWorkerOptions): Promise<Worker> {
  return createActivityWorker('cpu', o);
}
