/**
 * The GPU/CPU activity queues of a process that also serves workflow tasks (`cc2d run`'s local
 * workers, `cc2d worker` polling `workflows` with activity queues) run in a child process,
 * `cc2d worker --queues gpu,cpu`: a native TF training or matching step blocks its thread for
 * seconds (≈ 10 s per step at the `paper` profile on a CPU), which in one process starves workflow
 * tasks, `progress` queries and the CLI's own client calls. A child process, not worker threads:
 * tfjs-node's addon is not reliably loadable in several threads of one process.
 *
 * The child gets the same environment and flags, its output is forwarded line by line with a
 * prefix, the parent's first SIGINT/SIGTERM is forwarded (the child drains and checkpoints as any
 * `cc2d worker`), and it drains and exits when the parent dies (its IPC channel closes). It runs in
 * its own process group so a terminal's Ctrl-C reaches it once, through the parent.
 *
 * `CC2D_ACTIVITIES_IN_PROCESS=1` keeps everything in one process (the old hosting; the event-loop
 * test's negative control uses it).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { LogLevel } from '@temporalio/worker';
import { PROJECT_ROOT, type StackSettings } from '../infra/config/stack';
import { UserError } from '../infra/errors';
import { hostWorkers, type QueueRole } from './local';

export const IN_PROCESS_ENV = 'CC2D_ACTIVITIES_IN_PROCESS';

export function activitiesInProcess(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[IN_PROCESS_ENV] === '1';
}

const CLI = path.join(PROJECT_ROOT, 'bin', 'cc2d.mjs');
const READY = /^cc2d worker ready: .*backend=(\S+) device="([^"]*)" pid=(\d+)/;

export interface ActivityProcessOptions {
  roles: readonly ('gpu' | 'cpu')[];
  /** The worker identity prefix the child uses (`<prefix>/gpu`, `<prefix>/cpu`). */
  identityPrefix: string;
  taskQueues?: Partial<Record<QueueRole, string>>;
  allowCpu: boolean;
  logLevel: LogLevel;
  /** Where the child's stdout and stderr lines go (prefixed). */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface ActivityProcess {
  pid: number;
  backend: string;
  device: string;
  /** A signal was forwarded or `shutdown` called: an exit now is expected. */
  readonly stopRequested: boolean;
  /** Resolves when the child exits after a drain; rejects when it exits otherwise. */
  done: Promise<void>;
  /** SIGTERM (graceful drain: running activities checkpoint) and waits for the exit. */
  shutdown(): Promise<void>;
}

/** Starts `cc2d worker --queues <roles>` as a child; resolves once it is polling. */
export async function spawnActivityProcess(o: ActivityProcessOptions): Promise<ActivityProcess> {
  const args = ['worker', '--queues', o.roles.join(','), '--identity', o.identityPrefix, '--log-level', o.logLevel];
  if (o.allowCpu) args.push('--allow-cpu');
  if (o.taskQueues?.gpu) args.push('--gpu-queue', o.taskQueues.gpu);
  if (o.taskQueues?.cpu) args.push('--cpu-queue', o.taskQueues.cpu);
  const child = spawn(process.execPath, [CLI, ...args], { cwd: PROJECT_ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });
  const prefix = `[activities ${child.pid}] `;
  let ready: (info: { backend: string; device: string }) => void = () => undefined;
  const readyP = new Promise<{ backend: string; device: string }>((resolve) => (ready = resolve));
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const m = READY.exec(line);
    if (m) return ready({ backend: m[1]!, device: m[2]! });
    // The parent prints its own ready/stopped lines (scripts wait for them).
    if (!line.startsWith('cc2d worker ')) o.stdout.write(`${prefix}${line}\n`);
  });
  readline.createInterface({ input: child.stderr! }).on('line', (line) => o.stderr.write(`${prefix}${line}\n`));

  let stopping = false;
  const forward = (signal: NodeJS.Signals): void => {
    if (stopping || child.exitCode !== null) return;
    stopping = true;
    child.kill(signal);
  };
  const onSigint = (): void => forward('SIGINT');
  const onSigterm = (): void => forward('SIGTERM');
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigterm);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const done = exited.then(({ code, signal }) => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    if (code !== 0) throw new Error(`the activity worker process ${child.pid} exited with ${code ?? signal}`);
  });
  done.catch(() => undefined); // reported through the ready race or to whoever awaits `done`
  const info = await Promise.race([
    readyP,
    exited.then(({ code, signal }) => {
      const why = `the activity worker process (cc2d worker --queues ${o.roles.join(',')}) exited with ${code ?? signal} before it was ready`;
      // Exit 2 is the child's refusal (e.g. no GPU without --allow-cpu): a user error here too.
      throw code === 2 ? new UserError(why) : new Error(why);
    }),
  ]);
  return {
    pid: child.pid!,
    ...info,
    get stopRequested() {
      return stopping;
    },
    done,
    async shutdown() {
      forward('SIGTERM');
      await done;
    },
  };
}

/** Workers of a process: activity roles in a child process, workflows (if any) here. */
export interface HostedSplit {
  backend?: { backend: string; device: string };
  done: Promise<void>;
  shutdown(): Promise<void>;
}

export interface SplitOptions {
  roles: readonly QueueRole[];
  settings: StackSettings;
  identityPrefix?: string;
  taskQueues?: Partial<Record<QueueRole, string>>;
  allowCpu: boolean;
  logLevel: LogLevel;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Called when the activity process exits on its own (not through `shutdown`). */
  onActivityExit?: (err: unknown) => void;
}

/**
 * Hosts `roles`, the activity ones in a child process (unless `CC2D_ACTIVITIES_IN_PROCESS=1`).
 * The child starts first: a refusal (no GPU) fails before any workflow worker polls.
 */
export async function hostSplit(o: SplitOptions): Promise<HostedSplit> {
  const identityPrefix = o.identityPrefix ?? `${process.pid}@${os.hostname()}`;
  const common = { settings: o.settings, identityPrefix, ...(o.taskQueues ? { taskQueues: o.taskQueues } : {}), allowCpu: o.allowCpu };
  if (activitiesInProcess()) {
    const w = await hostWorkers({ ...common, roles: o.roles });
    const done = w.done.finally(() => w.deps?.store.destroy());
    done.catch(() => undefined); // a caller that never awaits `done` sees the failure through `shutdown`
    const b = w.deps?.backend();
    return { ...(b ? { backend: { backend: b.backend, device: b.device ?? 'none' } } : {}), done, shutdown: () => w.shutdown() };
  }
  const activityRoles = o.roles.filter((r): r is 'gpu' | 'cpu' => r !== 'workflows');
  const child = activityRoles.length > 0 ? await spawnActivityProcess({ ...o, roles: activityRoles, identityPrefix }) : undefined;
  let stopping = false;
  let wf: Awaited<ReturnType<typeof hostWorkers>> | undefined;
  try {
    wf = o.roles.includes('workflows') ? await hostWorkers({ ...common, roles: ['workflows'] }) : undefined;
  } catch (err) {
    await child?.shutdown().catch(() => undefined);
    throw err;
  }
  // An exit on its own is reported once, to `onActivityExit`, not again by `done` or `shutdown`.
  let exitedAlone = false;
  const onChildExit = (err: unknown): void => {
    if (stopping || child?.stopRequested) {
      if (err !== undefined) throw err;
      return;
    }
    exitedAlone = true;
    o.onActivityExit?.(err);
  };
  const childDone = child?.done.then(() => onChildExit(undefined), onChildExit);
  const done = Promise.all([wf?.done, childDone]).then(() => undefined);
  done.catch(() => undefined);
  return {
    ...(child ? { backend: { backend: child.backend, device: child.device } } : {}),
    done,
    async shutdown() {
      stopping = true;
      await Promise.all([wf?.shutdown(), exitedAlone ? undefined : child?.shutdown()]);
    },
  };
}
