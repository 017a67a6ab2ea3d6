/**
 * `cc2d worker [--queues gpu,cpu,workflows]`: runs workers until SIGINT/SIGTERM (graceful: stop
 * polling, running activities get the grace time, training checkpoints before it exits).
 * GPU hosts run `--queues gpu`; one command may host all three (the local default): then the
 * activity queues run in a child `cc2d worker` process (workers/activity-process.ts) so training
 * steps cannot starve workflow tasks and queries. A process polling the GPU queue refuses to start
 * without a usable GPU unless `--allow-cpu` (exit 2).
 */
import type { Command } from 'commander';
import type { LogLevel } from '@temporalio/worker';
import { loadStackSettings, type StackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { hostSplit, type HostedSplit } from '../../workers/activity-process';
import { hostWorkers, parseRoles, type QueueRole } from '../../workers/local';
import { installRuntime } from '../../workers/runtime-logger';

export function register(program: Command): void {
  program
    .command('worker')
    .description('Run Temporal workers for the pipeline queues (cc2d-workflows, cc2d-gpu, cc2d-cpu)')
    .option('--queues <list>', 'comma-separated subset of workflows,gpu,cpu', 'workflows,gpu,cpu')
    .option('--identity <name>', 'worker identity prefix (default pid@host)')
    .option('--log-level <level>', 'TRACE | DEBUG | INFO | WARN | ERROR', 'INFO')
    .option('--gpu-queue <name>', 'poll this GPU task queue instead of cc2d-gpu (dedicated pools)')
    .option('--cpu-queue <name>', 'poll this CPU task queue instead of cc2d-cpu')
    .option('--workflow-queue <name>', 'poll this workflow task queue instead of cc2d-workflows')
    .option('--allow-cpu', 'serve the GPU queue on a host without a usable GPU (recorded as "CPU (allowed)" in the lineage)')
    .action(async (opts: { queues: string; identity?: string; logLevel: string; gpuQueue?: string; cpuQueue?: string; workflowQueue?: string; allowCpu?: boolean }) => {
      let roles;
      try {
        roles = parseRoles(opts.queues);
      } catch (err) {
        throw new UserError((err as Error).message);
      }
      installRuntime(opts.logLevel.toUpperCase() as LogLevel);
      const settings = loadStackSettings();
      const taskQueues = {
        ...(opts.gpuQueue ? { gpu: opts.gpuQueue } : {}),
        ...(opts.cpuQueue ? { cpu: opts.cpuQueue } : {}),
        ...(opts.workflowQueue ? { workflows: opts.workflowQueue } : {}),
      };
      const hosted = roles.includes('workflows') && roles.length > 1 ? await hostWithChild(roles, settings, taskQueues, opts) : await hostHere(roles, settings, taskQueues, opts);
      // One parseable line: scripts and tests wait for it.
      console.log(
        `cc2d worker ready: queues=${roles.join(',')} namespace=${settings.temporal.namespace} address=${settings.temporal.address} backend=${hosted.backend?.backend ?? 'none'} ` +
          `device="${hosted.backend?.device ?? 'none'}" pid=${process.pid}`,
      );
      await hosted.done;
      console.log('cc2d worker stopped');
    });
}

type WorkerOpts = { identity?: string; logLevel: string; allowCpu?: boolean };
type Hosted = { backend?: { backend: string; device: string }; done: Promise<void> };

/** Every role in this process (a single queue role, or workflows alone). */
async function hostHere(roles: QueueRole[], settings: StackSettings, taskQueues: Partial<Record<QueueRole, string>>, opts: WorkerOpts): Promise<Hosted> {
  const hosted = await hostWorkers({ roles, settings, taskQueues, allowCpu: opts.allowCpu ?? false, ...(opts.identity ? { identityPrefix: opts.identity } : {}) });
  // Started by a parent cc2d process (its activity queues): drain and exit when the parent dies.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => void hosted.shutdown());
  }
  const backend = hosted.deps?.backend();
  return { ...(backend ? { backend: { backend: backend.backend, device: backend.device ?? 'none' } } : {}), done: hosted.done.finally(() => hosted.deps?.store.destroy()) };
}

/** Workflows here, the activity queues in a child process; when the child dies, this one stops too (exit 1). */
async function hostWithChild(roles: QueueRole[], settings: StackSettings, taskQueues: Partial<Record<QueueRole, string>>, opts: WorkerOpts): Promise<Hosted> {
  let childFailure: unknown;
  const hosted: HostedSplit = await hostSplit({
    roles,
    settings,
    taskQueues,
    allowCpu: opts.allowCpu ?? false,
    logLevel: opts.logLevel.toUpperCase() as LogLevel,
    stdout: process.stdout,
    stderr: process.stderr,
    ...(opts.identity ? { identityPrefix: opts.identity } : {}),
    onActivityExit: (err) => {
      childFailure = err ?? new Error('the activity worker process exited');
      void hosted.shutdown();
    },
  });
  return {
    ...(hosted.backend ? { backend: hosted.backend } : {}),
    done: hosted.done.then(() => {
      if (childFailure !== undefined) throw childFailure;
    }),
  };
}
