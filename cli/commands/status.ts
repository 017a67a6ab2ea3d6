/** `cc2d status <id>`: status, stage, progress, pending activities and (when done) metrics of a run. */
import type { Command } from 'commander';
import { decodePendingActivityState, type Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { PipelineProgress, PipelineResult } from '../../contracts/types';
import { activityRole } from '../../infra/config/names';
import { etaText } from '../../infra/dashboard/eta';
import { loadStackSettings } from '../../infra/config/stack';
import { withClient } from '../../infra/temporal/connect';
import { failureMessage } from '../../infra/temporal/payload-codec';
import { formatResult, workerCommand } from '../format';
import { describeFailure } from '../run-follow';
import { describeRun, livePollers, QUEUE_OF_ROLE, queryProgress, runInput, searchAttributesOf } from '../pipeline-client';

const { PendingActivityState } = proto.temporal.api.enums.v1;

/** 'scheduled', 'started', 'cancel-requested', ...; the raw number for a state this SDK does not know. */
function stateName(state: proto.temporal.api.enums.v1.PendingActivityState | null | undefined): string {
  return decodePendingActivityState(state)?.toLowerCase().replace(/_/g, '-') ?? String(state ?? '');
}

/** What `cc2d status` shows of a run: status, search attributes, progress, pending activities, and the result or the failure. */
export async function runStatus(client: Client, runId: string) {
  const desc = await describeRun(client, runId);
  const handle = client.workflow.getHandle(runId);
  const attrs = searchAttributesOf(desc as never);
  const progress: PipelineProgress | undefined = desc.status.name === 'RUNNING' ? await queryProgress(handle) : undefined;
  const raw = desc.raw.pendingActivities ?? [];
  const input = desc.status.name === 'RUNNING' ? await runInput(client, runId).catch(() => undefined) : undefined;
  const pending = await Promise.all(
    raw.map(async (a) => {
      const name = a.activityType?.name ?? '?';
      const role = activityRole(name);
      const queue = input?.config.taskQueues?.[role];
      // An unclaimed task with nobody polling its queue is "waiting for a worker", not a hang.
      const lastFailure = await failureMessage(client.options.loadedDataConverter, a.lastFailure);
      const waiting = a.state === PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED && (await livePollers(client, role, queue).catch(() => ['?'])).length === 0;
      return {
        activity: name,
        state: stateName(a.state),
        attempt: a.attempt ?? 1,
        ...(waiting ? { waitingFor: `a ${role.toUpperCase()} worker on ${queue ?? QUEUE_OF_ROLE[role].name}`, startWorker: workerCommand(role, queue ?? QUEUE_OF_ROLE[role].name, QUEUE_OF_ROLE[role].name) } : {}),
        ...(lastFailure ? { lastFailure } : {}),
        ...(a.lastWorkerIdentity ? { lastWorker: a.lastWorkerIdentity } : {}),
      };
    }),
  );
  let result: PipelineResult | undefined;
  if (desc.status.name === 'COMPLETED') result = (await handle.result()) as PipelineResult;
  // A failed run says why, also the next morning (its close failure, from the history).
  const failure = desc.status.name === 'FAILED' ? await handle.result().then(() => undefined, (err: unknown) => describeFailure(err)) : undefined;
  return { runId, status: desc.status.name, ...attrs, workflowStatus: desc.status.name, startTime: desc.startTime, closeTime: desc.closeTime, progress, pending, result, ...(failure !== undefined ? { failure } : {}) };
}

export function register(program: Command): void {
  program
    .command('status <runId>')
    .description('Status, stage, progress and (when done) metrics of a run')
    .option('--json', 'one JSON object')
    .action(async (runId: string, opts: { json?: boolean }) => {
      await withClient(loadStackSettings(), async (client) => {
        const out = await runStatus(client, runId);
        const { workflowStatus, stage, site, profile, progress, pending, result, failure } = out as typeof out & Record<'stage' | 'site' | 'profile', unknown>;
        if (opts.json) {
          console.log(JSON.stringify(out));
          return;
        }
        console.log(`${runId}: ${workflowStatus}  stage ${String(stage ?? '?')}  site ${String(site ?? '?')}  profile ${String(profile ?? '?')}`);
        if (progress) {
          const eta = etaText(progress, Date.now());
          console.log(`  progress ${(progress.fraction * 100).toFixed(0)}%  ${progress.stage} step ${progress.step}/${progress.totalSteps}${progress.loss !== undefined ? ` loss ${progress.loss.toFixed(4)}` : ''}${eta ? `  ${eta}` : ''}`);
        }
        for (const p of pending) {
          console.log(`  pending ${p.activity} (${p.state}) attempt ${p.attempt}${p.lastWorker ? ` on ${p.lastWorker}` : ''}${p.lastFailure ? ` (last failure: ${p.lastFailure})` : ''}`);
          if (p.waitingFor) console.log(`    waiting for ${p.waitingFor}: start one with ${p.startWorker}`);
        }
        if (failure !== undefined) console.log(`  failed: ${failure}`);
        if (result) console.log(formatResult(result));
      });
    });
}
