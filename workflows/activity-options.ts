/**
 * Named activity-option profiles of the pipeline. One place decides queues, timeouts and
 * retries; the workflow only picks a profile per activity family. The GPU families (training,
 * matching) carry exactly GPU_ACTIVITIES of infra/config/names.ts (checked below).
 *
 * - training: GPU queue, long start-to-close, short heartbeat timeout (a dead worker is noticed
 *   within `heartbeatTimeoutSeconds` ≤ 60 s, then the retry resumes from the last checkpoint),
 *   few attempts, user errors never retried.
 * - matching: GPU queue, pseudo-label shards (one activity per shard).
 * - cpu: CPU queue, ingestion/planning/evaluation, more attempts.
 * - light: CPU queue, report and cleanup (small, quick, idempotent).
 */
import type { ActivityOptions, RetryPolicy } from '@temporalio/workflow';
import type { GpuActivities } from '../activities';
import { CPU_TASK_QUEUE, GPU_TASK_QUEUE, type GpuActivityName } from '../infra/config/names';
import { NON_RETRYABLE_ERROR_TYPES } from '../infra/errors';

type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
/**
 * Compile-time: the activities proxied with the GPU profiles (and registered by the GPU worker)
 * are exactly GPU_ACTIVITIES, the list the CLI routes by; adding one on either side alone fails.
 */
export type GpuActivitiesAreListed = Assert<SameKeys<keyof GpuActivities, GpuActivityName>>;

/** Retries of long, checkpointed work: resumed attempts are cheap, but a poison input is not. */
export const TRAINING_RETRY: RetryPolicy = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 6,
  nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
};

/** Retries of short CPU work: transient storage or network errors ride out a minute or two. */
export const CPU_RETRY: RetryPolicy = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '20s',
  maximumAttempts: 10,
  nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
};

/** Task queues of a run's activities (a run config may route them to dedicated pools). */
export interface RunQueues {
  gpu?: string;
  cpu?: string;
}

export function trainingOptions(heartbeatTimeoutSeconds: number, queues: RunQueues = {}): ActivityOptions {
  return {
    taskQueue: queues.gpu ?? GPU_TASK_QUEUE,
    // The paper profile is ~6 h on a GPU; a stuck attempt is caught by the heartbeat timeout.
    startToCloseTimeout: '48h',
    heartbeatTimeout: `${heartbeatTimeoutSeconds}s`,
    retry: TRAINING_RETRY,
    // The workflow waits until the activity has really stopped (so cleanup cannot race its writes).
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  };
}

export function matchingOptions(heartbeatTimeoutSeconds: number, queues: RunQueues = {}): ActivityOptions {
  return { ...trainingOptions(heartbeatTimeoutSeconds, queues), startToCloseTimeout: '6h' };
}

export function cpuOptions(heartbeatTimeoutSeconds: number, queues: RunQueues = {}): ActivityOptions {
  return {
    taskQueue: queues.cpu ?? CPU_TASK_QUEUE,
    startToCloseTimeout: '2h',
    heartbeatTimeout: `${heartbeatTimeoutSeconds}s`,
    retry: CPU_RETRY,
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  };
}

export function lightOptions(queues: RunQueues = {}): ActivityOptions {
  return {
    taskQueue: queues.cpu ?? CPU_TASK_QUEUE,
    startToCloseTimeout: '10m',
    retry: CPU_RETRY,
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
  };
}

/** Ingestion decodes and resizes every image once (heartbeating per file); reuse is quick. */
export function ingestOptions(heartbeatTimeoutSeconds: number, queues: RunQueues = {}): ActivityOptions {
  return { ...cpuOptions(heartbeatTimeoutSeconds, queues), startToCloseTimeout: '4h' };
}
