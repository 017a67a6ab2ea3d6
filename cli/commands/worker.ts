/**
 * `cc2d worker [--queues gpu,cpu,workflows]`: runs workers until SIGINT/SIGTERM (graceful: stop
 * polling, running activities get the grace time, training checkpoints before it exits).
 * GPU hosts run `--queues gpu`; one process may host all three (the local default). A process
 * polling the GPU queue refuses to start without a usable GPU unless `--allow-cpu` (exit 2).
 */
import type { Command } from 'commander';
import type { LogLevel } from '@temporalio/worker';
import { loadStackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { hostWorkers, parseRoles } from '../../workers/local';
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
      const hosted = await hostWorkers({ roles, settings, taskQueues, allowCpu: opts.allowCpu ?? false, ...(opts.identity ? { identityPrefix: opts.identity } : {}) });
      const backend = hosted.deps?.backend();
      // One parseable line: scripts and tests wait for it.
      console.log(
        `cc2d worker ready: queues=${roles.join(',')} namespace=${settings.temporal.namespace} address=${settings.temporal.address} backend=${backend?.backend ?? 'none'} ` +
          `device="${backend?.device ?? 'none'}" pid=${process.pid}`,
      );
      await hosted.done;
      hosted.deps?.store.destroy();
      console.log('cc2d worker stopped');
    });
}
