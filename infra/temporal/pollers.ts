/**
 * Who polls a task queue: the CLI and the dashboard both tell "waiting for a worker" apart from
 * a slow stage by asking the server for the queue's recent pollers.
 */
import os from 'node:os';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

const { TaskQueueKind } = proto.temporal.api.enums.v1;

/** Milliseconds since the epoch of a protobuf Timestamp, undefined when absent. */
export function timestampMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  if (!t || t.seconds === undefined || t.seconds === null) return undefined;
  return Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** Pollers seen within this window count as live (idle long polls renew about every minute). */
const LIVE_POLLER_MS = 90_000;

/**
 * Whether a poller identity names a process of this host that no longer runs. Worker identities
 * end in `<pid>@<host>` (Temporal's default, `cc2d worker`'s `<pid>@<host>/gpu`, the CLI's local
 * workers `cc2d-run-<pid>@<host>/cpu`); the server lists a poller for up to a minute after its
 * process died (a `cc2d run` or `predict` that just ended), so without this check the next
 * command waits for that ghost before hosting workers of its own.
 */
export function isDeadLocalPoller(identity: string, hostname: string = os.hostname()): boolean {
  const m = /(?:^|[^0-9])(\d+)@([^/\s]+)/.exec(identity);
  if (!m || m[2] !== hostname) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false;
  } catch (err) {
    // EPERM: the process exists under another user.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Identities of the live pollers of one task queue (seen recently, and not a dead process of this host). */
export async function queuePollers(client: Client, name: string, type: proto.temporal.api.enums.v1.TaskQueueType): Promise<string[]> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: type,
  });
  const now = Date.now();
  return (res.pollers ?? [])
    .filter((p) => now - (timestampMs(p.lastAccessTime) ?? 0) < LIVE_POLLER_MS)
    .map((p) => p.identity ?? '?')
    .filter((identity) => !isDeadLocalPoller(identity));
}
