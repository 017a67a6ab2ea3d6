/**
 * Starting a run and following it to its end, shared by `cc2d run`, `rerun` and `resume`:
 * hosts workers when none poll (cli/local-workers.ts), shows a progress bar, prints the result.
 * A run that does not complete exits 1 (2 is for invalid input).
 */
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { PipelineResult } from '../contracts/types';
import type { PipelineInput } from '../infra/config/run-config';
import type { StackSettings } from '../infra/config/stack';
import { ALL_ROLES, type QueueRole } from '../workers/local';
import { GPU_TASK_QUEUE } from '../infra/config/names';
import { formatResult, workerCommand } from './format';
import { LocalWorkers, type WorkersMode } from './local-workers';
import { livePollers, missingRoles, newRunId, QUEUE_OF_ROLE, queryProgress, startRun } from './pipeline-client';
import { ProgressView } from './progress-view';

/** The flags of every command that starts or resumes a run. */
export interface FollowFlags {
  detach?: boolean;
  json?: boolean;
  workers: WorkersMode;
  verbose?: boolean;
}

/** Follows a run until it closes; returns its result or throws its failure. */
export async function follow(handle: WorkflowHandle, view: ProgressView, client: Client, local?: LocalWorkers, gpuQueue?: string): Promise<PipelineResult> {
  let done = false;
  const result = handle.result().finally(() => {
    done = true;
  });
  const poll = (async () => {
    let lastWarn = 0;
    while (!done) {
      const p = await queryProgress(handle);
      if (p) {
        let note: string | undefined;
        if (p.stage === 'ssl' || p.stage === 'tpl' || p.stage === 'refine' || p.stage === 'pseudo-labels') {
          // Never a silent hang when no GPU worker polls.
          if (Date.now() - lastWarn > 10_000 && p.step === 0 && (await livePollers(client, 'gpu', gpuQueue).catch(() => ['?'])).length === 0) {
            note = `waiting for a GPU worker (start one: ${workerCommand('gpu', gpuQueue ?? GPU_TASK_QUEUE, GPU_TASK_QUEUE)})`;
          }
        }
        view.update(p, note);
      }
      await local?.check(handle).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  try {
    return (await result) as PipelineResult;
  } finally {
    await poll;
  }
}

/** Why a run did not complete: the failure's chain of causes, outermost first. */
export function describeFailure(err: unknown): string {
  if (err instanceof WorkflowFailedError) {
    let cause: unknown = err.cause;
    const parts: string[] = [];
    while (cause instanceof Error) {
      parts.push(cause.message);
      cause = (cause as Error & { cause?: unknown }).cause;
    }
    return parts.join(': ') || err.message;
  }
  return (err as Error).message;
}

/** A run that did not complete: exit code 1 (2 is for invalid input), no stack trace. */
class RunFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFailed';
    this.stack = message;
  }
}

function runQueues(input: PipelineInput): { gpu?: string; cpu?: string } {
  const q = input.config.taskQueues ?? {};
  return { ...(q.gpu ? { gpu: q.gpu } : {}), ...(q.cpu ? { cpu: q.cpu } : {}) };
}

/** Hosts workers if needed, follows the run with a progress bar, prints the result. */
export async function followRun(client: Client, handle: WorkflowHandle, input: PipelineInput, flags: FollowFlags, local?: LocalWorkers): Promise<void> {
  const runId = handle.workflowId;
  const view = new ProgressView(!flags.json || process.stderr.isTTY === true);
  // Ctrl-C detaches: the run goes on in Temporal, but workers this process hosts stop with it
  // (their training checkpoints first), so the run then waits for another worker; say so, and exit.
  let interrupted: () => void = () => undefined;
  const interruption = new Promise<'interrupted'>((resolve) => {
    interrupted = () => resolve('interrupted');
  });
  const onSigint = (): void => {
    view.stop();
    const hosted = local?.hostedQueues() ?? [];
    const waits = hosted.length > 0
      ? ` The workers this command hosted stop now (${hosted.map((h) => h.queue).join(', ')}; training checkpoints first), so the run waits until a worker polls them: npx cc2d worker${hosted.some((h) => h.role === 'gpu') ? ' --allow-cpu' : ''}${hosted.filter((h) => h.role !== 'workflows' && h.queue !== QUEUE_OF_ROLE[h.role].name).map((h) => ` --${h.role}-queue ${h.queue}`).join('')}.`
      : '';
    process.stderr.write(`\n[cc2d] detached from ${runId}; it continues in Temporal.${waits} Follow: npx cc2d status ${runId}; cancel: npx cc2d cancel ${runId}\n`);
    interrupted();
  };
  process.once('SIGINT', onSigint);
  try {
    const outcome = await Promise.race([follow(handle, view, client, local, runQueues(input).gpu), interruption]);
    view.stop();
    if (outcome === 'interrupted') {
      if (flags.json) console.log(JSON.stringify({ runId, status: 'running', detached: true }));
      await local?.shutdown();
      // The result's long poll and the progress loop would keep the process alive: leave now,
      // once stdout has flushed (130: ended by SIGINT).
      await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
      process.exit(130);
    }
    if (flags.json) console.log(JSON.stringify(outcome));
    else console.log(formatResult(outcome));
  } catch (err) {
    view.stop();
    throw new RunFailedError(`run ${runId} did not complete: ${describeFailure(err)}`);
  } finally {
    process.off('SIGINT', onSigint);
    await local?.shutdown();
  }
}

/** Workers hosted in this process for the run, unless detached (then only a warning when a queue has none). */
export async function prepareWorkers(client: Client, settings: StackSettings, input: PipelineInput, flags: FollowFlags): Promise<LocalWorkers | undefined> {
  const queues = runQueues(input);
  const local = flags.detach ? undefined : new LocalWorkers(client, settings, flags.workers, flags.verbose ?? false, queues);
  if (local) await local.beforeStart();
  else {
    const missing = await missingRoles(client, ALL_ROLES, queues);
    if (missing.length > 0) {
      const name = (r: QueueRole): string => queues[r as 'gpu' | 'cpu'] ?? QUEUE_OF_ROLE[r].name;
      const commands = missing.map((r) => (r === 'workflows' ? 'npx cc2d worker --queues workflows' : workerCommand(r, name(r), QUEUE_OF_ROLE[r].name)));
      process.stderr.write(`[cc2d] warning: no live worker polls ${missing.map(name).join(', ')}; the run waits until one does: ${commands.join('; ')}\n`);
    }
  }
  return local;
}

/** What a detached start prints: the run id, or one JSON line. */
export function printDetached(runId: string, flags: FollowFlags): void {
  if (flags.json) console.log(JSON.stringify({ runId, status: 'running' }));
  else console.log(runId);
}

export async function runAndFollow(client: Client, settings: StackSettings, input: PipelineInput, flags: FollowFlags & { runId?: string }): Promise<void> {
  const runId = flags.runId ?? newRunId(input.config.site);
  const local = await prepareWorkers(client, settings, input, flags);
  let handle: WorkflowHandle;
  try {
    handle = await startRun(client, input, runId);
  } catch (err) {
    await local?.shutdown();
    throw err;
  }
  process.stderr.write(`[cc2d] started run ${runId} (profile ${input.profile.name}, site ${input.config.site}, template ${input.config.templateId}, seed ${input.config.seed})\n`);
  if (flags.detach) {
    printDetached(runId, flags);
    return;
  }
  await followRun(client, handle, input, flags, local);
}
