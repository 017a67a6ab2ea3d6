/**
 * `cc2d resume <id>`: resumes a cancelled, failed, timed-out or terminated run by resetting its
 * workflow to the first workflow task, so the pipeline re-executes under the same run id. Stages
 * that finished before return their stored results (completion markers), training resumes from
 * its newest verified checkpoint, the dataset version is reused. A run purged with
 * `cc2d cancel --purge` has none of these left and starts its stages again.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { loadStackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { withClient } from '../../infra/temporal/connect';
import { describeRun, runInput } from '../pipeline-client';
import { followRun, prepareWorkers, printDetached, type FollowFlags } from '../run-follow';

async function resumableRun(client: Client, runId: string) {
  const desc = await describeRun(client, runId);
  if (!['CANCELLED', 'FAILED', 'TIMED_OUT', 'TERMINATED'].includes(desc.status.name)) {
    throw new UserError(`run ${runId} is ${desc.status.name}; only a cancelled, failed, timed-out or terminated run can be resumed`);
  }
  return desc;
}

/** Resets the run to its first workflow task; returns the handle of the new execution. */
export async function resumeRun(client: Client, runId: string): Promise<WorkflowHandle> {
  const desc = await resumableRun(client, runId);
  const history = await client.workflow.getHandle(runId, desc.runId).fetchHistory();
  const firstTask = history.events?.find((e) => e.workflowTaskCompletedEventAttributes);
  if (!firstTask) throw new UserError(`run ${runId} never ran a workflow task; start it again with \`cc2d rerun ${runId}\``);
  const res = await client.workflowService.resetWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId: runId, runId: desc.runId },
    reason: 'cc2d resume',
    workflowTaskFinishEventId: firstTask.eventId,
    requestId: randomUUID(),
  });
  return client.workflow.getHandle(runId, res.runId ?? undefined);
}

export function register(program: Command): void {
  program
    .command('resume <runId>')
    .description('Resume a cancelled or failed run under the same id: finished stages are reused, training resumes from its last checkpoint')
    .option('--detach', 'resume and print the run id without waiting')
    .option('--json', 'print the final result as one JSON line, last')
    .option('--workers <mode>', 'auto | local | none', 'auto')
    .option('--verbose', 'show SDK and activity logs')
    .action(async (runId: string, flags: FollowFlags) => {
      const settings = loadStackSettings();
      await withClient(settings, async (client) => {
        await resumableRun(client, runId);
        const input = await runInput(client, runId);
        const local = await prepareWorkers(client, settings, input, flags);
        let desc;
        try {
          desc = await (await resumeRun(client, runId)).describe();
        } catch (err) {
          await local?.shutdown();
          throw err;
        }
        process.stderr.write(`[cc2d] resumed run ${runId} (new execution ${desc.runId})\n`);
        if (flags.detach) {
          printDetached(runId, flags);
          return;
        }
        await followRun(client, client.workflow.getHandle(runId), input, flags, local);
      });
    });
}
