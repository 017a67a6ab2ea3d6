/**
 * Workers hosted inside `cc2d run` when nothing else serves the run (the local default):
 *
 * - `local`: always host workflows + gpu + cpu in this process;
 * - `none`: never (the run waits for `npx cc2d worker` processes);
 * - `auto` (default): only when Temporal is on this machine (the dev stack). Before the start,
 *   roles whose queue has no poller seen in the last 90 s are hosted; while following, a role
 *   whose task waits unclaimed (workflow task > 3 s, activity > 5 s) with no poll since it was
 *   scheduled is hosted too — a poller listed by the server may belong to a process that just
 *   exited. On a remote cluster `auto` never hosts (training must not silently land on a laptop).
 * Hosted GPU-queue workers run on the CPU when this machine has no GPU: they pass the allow flag
 * explicitly, say so, and record "CPU (allowed)" in the lineage.
 * Hosted activity queues run in a child process (workers/activity-process.ts): a native training
 * step would otherwise block this process's event loop, and with it workflow tasks, `progress`
 * queries and the progress bar. Peak memory is therefore that of two processes.
 */
import os from 'node:os';
import type { Client, WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { activityRole } from '../infra/config/names';
import type { StackSettings } from '../infra/config/stack';
import { hostSplit, type HostedSplit } from '../workers/activity-process';
import { ALL_ROLES, type QueueRole } from '../workers/local';
import { installRuntime } from '../workers/runtime-logger';
import { missingRoles, QUEUE_OF_ROLE, timestampMs } from './pipeline-client';

export type WorkersMode = 'auto' | 'local' | 'none';

const { PendingActivityState, PendingWorkflowTaskState } = proto.temporal.api.enums.v1;

export class LocalWorkers {
  private readonly hosted = new Map<QueueRole, HostedSplit>();

  constructor(
    private readonly client: Client,
    private readonly settings: StackSettings,
    private readonly mode: WorkersMode,
    private readonly verbose: boolean,
    /** The run's activity queues when its config routes them to dedicated pools. */
    private readonly queues: Partial<Record<QueueRole, string>> = {},
  ) {}

  private queueName(r: QueueRole): string {
    return this.queues[r] ?? QUEUE_OF_ROLE[r].name;
  }

  private get mayHost(): boolean {
    return this.mode === 'local' || (this.mode === 'auto' && this.settings.temporal.local);
  }

  async host(roles: readonly QueueRole[], why: string): Promise<void> {
    const todo = roles.filter((r) => !this.hosted.has(r));
    if (todo.length === 0) return;
    // Quiet SDK logs in the CLI process unless --verbose (they would tear the progress bar).
    installRuntime(this.verbose ? 'INFO' : 'WARN');
    const activities = todo.filter((r) => r !== 'workflows');
    const where = activities.length === 0 ? 'in this process' : todo.includes('workflows') ? `in this process (${activities.join('+')} in a child process)` : 'in a child process';
    process.stderr.write(`[cc2d] ${why}: hosting ${todo.join('+')} ${where}${todo.includes('gpu') ? ' (GPU queue with --allow-cpu)' : ''}\n`);
    const w = await hostSplit({
      roles: todo,
      settings: this.settings,
      identityPrefix: `cc2d-run-${process.pid}@${os.hostname()}`,
      taskQueues: this.queues,
      allowCpu: true,
      logLevel: this.verbose ? 'INFO' : 'WARN',
      // stdout carries the result (--json): the child's lines go to stderr.
      stdout: process.stderr,
      stderr: process.stderr,
      onActivityExit: (err) => {
        // A dead activity process is no longer hosting: `auto` hosts its queues again when their tasks wait.
        for (const r of activities) if (this.hosted.get(r) === w) this.hosted.delete(r);
        process.stderr.write(`[cc2d] the activity worker process stopped (${(err as Error | undefined)?.message ?? 'exit 0'})\n`);
      },
    });
    for (const r of todo) this.hosted.set(r, w);
  }

  /** Before the run starts. */
  async beforeStart(): Promise<void> {
    if (this.mode === 'none') return;
    if (this.mode === 'local') return this.host(ALL_ROLES, 'local workers requested');
    const missing = await missingRoles(this.client, ALL_ROLES, this.queues);
    if (missing.length === 0) return;
    const queues = missing.map((r) => this.queueName(r)).join(', ');
    if (!this.mayHost) {
      process.stderr.write(`[cc2d] warning: no live worker on ${queues}; the run waits until workers poll (npx cc2d worker)\n`);
      return;
    }
    await this.host(missing, `no live worker on ${queues}`);
  }

  /** While following: hosts roles whose tasks wait unclaimed (stale pollers). */
  async check(handle: WorkflowHandle): Promise<void> {
    if (this.mode !== 'auto' || !this.mayHost || this.hosted.size === ALL_ROLES.length) return;
    const { raw } = await handle.describe();
    const now = Date.now();
    const starving = new Set<QueueRole>();
    const wt = raw.pendingWorkflowTask;
    if (wt && wt.state === PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED && now - (timestampMs(wt.scheduledTime) ?? now) > 3_000) starving.add('workflows');
    for (const a of raw.pendingActivities ?? []) {
      const scheduled = timestampMs(a.scheduledTime);
      if (a.state === PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED && scheduled !== undefined && now - scheduled > 5_000) {
        starving.add(activityRole(a.activityType?.name ?? ''));
      }
    }
    const roles = [...starving].filter((r) => !this.hosted.has(r));
    if (roles.length > 0) await this.host(roles, `tasks on ${roles.map((r) => this.queueName(r)).join(', ')} wait unclaimed`);
  }

  /** The queues this process hosts workers for now (role and queue name). */
  hostedQueues(): Array<{ role: QueueRole; queue: string }> {
    return [...this.hosted.keys()].map((role) => ({ role, queue: this.queueName(role) }));
  }

  async shutdown(): Promise<void> {
    const all = new Set(this.hosted.values());
    for (const w of all) await w.shutdown();
    this.hosted.clear();
  }
}
