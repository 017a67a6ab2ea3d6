/**
 * Hosting workers: any subset of {workflows, gpu, cpu} in one process. `cc2d run` hosts by default
 * (`--workers auto`) only the queues nobody polls, `--workers local` all three; production runs one
 * queue per process (GPU hosts: gpu only).
 */
import os from 'node:os';
import type { NativeConnection, Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { StackSettings } from '../infra/config/stack';
import { connectWorker } from '../infra/temporal/connect';
import { assertGpuQueueDevice, buildActivityDeps, CPU_ALLOWED, type WorkerDeps } from './activity-deps';
import { createCpuWorker } from './cpu-worker';
import { createGpuWorker } from './gpu-worker';
import { createWorkflowWorker } from './workflow-worker';

export type QueueRole = 'workflows' | 'gpu' | 'cpu';
export const ALL_ROLES: readonly QueueRole[] = ['workflows', 'gpu', 'cpu'];

export function parseRoles(value: string): QueueRole[] {
  const roles = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = roles.filter((r) => !(ALL_ROLES as readonly string[]).includes(r));
  if (bad.length > 0 || roles.length === 0) throw new Error(`--queues: expected a comma-separated subset of ${ALL_ROLES.join(',')}, got "${value}"`);
  return [...new Set(roles)] as QueueRole[];
}

export interface HostedWorkers {
  roles: QueueRole[];
  workers: Worker[];
  deps?: WorkerDeps;
  connection: NativeConnection;
  /** Resolves when every worker has stopped (after `shutdown()` or a signal). */
  done: Promise<void>;
  /** Graceful: stop polling, let running activities finish within their grace time. */
  shutdown(): Promise<void>;
}

export interface HostOptions {
  roles: readonly QueueRole[];
  settings: StackSettings;
  identityPrefix?: string;
  bundle?: WorkflowBundleWithSourceMap;
  /** Reuse an existing connection (tests); otherwise one is opened and closed with the workers. */
  connection?: NativeConnection;
  deps?: WorkerDeps;
  /** Task queue per role (default cc2d-workflows / cc2d-gpu / cc2d-cpu). */
  taskQueues?: Partial<Record<QueueRole, string>>;
  /** Serve the GPU queue without a GPU (`--allow-cpu`); ignored when `deps` are given (they carry the device). */
  allowCpu?: boolean;
}

export async function hostWorkers(o: HostOptions): Promise<HostedWorkers> {
  const roles = [...o.roles];
  const needsActivities = roles.includes('gpu') || roles.includes('cpu');
  // Before connecting: a GPU-queue worker without a GPU is refused even when Temporal is down.
  const deps = o.deps ?? (needsActivities ? await buildActivityDeps(o.settings, { allowCpu: o.allowCpu ?? false }) : undefined);
  if (roles.includes('gpu')) {
    assertGpuQueueDevice(deps!.backend());
    if (deps!.backend().device === CPU_ALLOWED) console.warn('[cc2d] no usable GPU: the GPU queue runs on the CPU (--allow-cpu; recorded as "CPU (allowed)" in the lineage)');
  }
  const ownConnection = o.connection === undefined;
  const connection = o.connection ?? (await connectWorker(o.settings));
  const namespace = o.settings.temporal.namespace;
  const id = (role: QueueRole): string => `${o.identityPrefix ?? `${process.pid}@${os.hostname()}`}/${role}`;
  const workers: Worker[] = [];
  for (const role of roles) {
    const q = o.taskQueues?.[role];
    const common = { connection, namespace, identity: id(role), ...(q !== undefined ? { taskQueue: q } : {}) };
    if (role === 'workflows') workers.push(await createWorkflowWorker({ ...common, ...(o.bundle ? { bundle: o.bundle } : {}) }));
    if (role === 'gpu') workers.push(await createGpuWorker({ ...common, deps: deps! }));
    if (role === 'cpu') workers.push(await createCpuWorker({ ...common, deps: deps! }));
  }
  const done = Promise.all(workers.map((w) => w.run())).then(
    async () => {
      if (ownConnection) await connection.close();
    },
    async (err: unknown) => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      if (ownConnection) await connection.close().catch(() => undefined);
      throw err;
    },
  );
  return {
    roles,
    workers,
    ...(deps ? { deps } : {}),
    connection,
    done,
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}
