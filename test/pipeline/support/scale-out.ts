/**
 * TEST-ONLY helpers of the scale-out test: killing a worker process group while it executes a
 * pseudo-label shard (found from the runs' pending activities), the peak RSS of a process group,
 * and the bucket's versioning state (an overwritten key is a second version when it is on).
 */
import { readdir, readFile } from 'node:fs/promises';
import { GetBucketVersioningCommand, ListObjectVersionsCommand, S3Client } from '@aws-sdk/client-s3';
import type { WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { StackSettings } from '../../../infra/config/stack';
import { sleep, type ChildProcesses, type CliProcess } from './fault-runs';

const STARTED = proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

export interface KilledShard {
  runId: string;
  activityId: string;
  attempt: number;
  identity: string;
  /** Milliseconds from the start of watching to the kill. */
  afterMs: number;
  /** Shards frozen and woken again because they had finished before the freeze. */
  misses: number;
}

interface RunningShard {
  runId: string;
  activityId: string;
  attempt: number;
  identity: string;
}

async function runningShards(handles: WorkflowHandle[]): Promise<RunningShard[]> {
  const described = await Promise.all(handles.map((x) => x.describe().catch(() => undefined)));
  return described.flatMap((d, i) =>
    (d?.raw.pendingActivities ?? [])
      .filter((a) => a.activityType?.name === 'generatePseudoLabels' && a.state === STARTED && a.lastWorkerIdentity)
      .map((a) => ({ runId: handles[i]!.workflowId, activityId: a.activityId!, attempt: a.attempt ?? 1, identity: a.lastWorkerIdentity! })),
  );
}

/**
 * Kills (-9) the process group of the first of `workers` found executing a pseudo-label shard of
 * one of the runs. The pending activities only say the shard was running when they were read, so
 * the group is first frozen (SIGSTOP) and the shard read again: only when it is still pending on
 * that worker is the group killed (it cannot finish while frozen); otherwise it is woken and the
 * watch goes on. Gives up (undefined) when `stop()` turns true first.
 */
export async function killWorkerMidShard(
  kids: ChildProcesses,
  workers: ReadonlyMap<string, CliProcess>,
  handles: WorkflowHandle[],
  stop: () => boolean,
): Promise<KilledShard | undefined> {
  const t0 = Date.now();
  let misses = 0;
  const workerOf = (identity: string): [string, CliProcess] | undefined => [...workers].find(([name]) => identity.startsWith(`${name}/`));
  while (!stop()) {
    for (const shard of await runningShards(handles)) {
      const worker = workerOf(shard.identity);
      if (!worker) continue;
      const [name, w] = worker;
      kids.killGroup(w.child, 'SIGSTOP');
      // A completion sent just before the stop reaches the server within this margin.
      await sleep(300);
      const still = (await runningShards(handles.filter((x) => x.workflowId === shard.runId))).find((s) => s.activityId === shard.activityId);
      if (still && still.attempt === shard.attempt && still.identity === shard.identity) {
        kids.killGroup(w.child, 'SIGKILL');
        return { ...shard, identity: name, afterMs: Date.now() - t0, misses };
      }
      kids.killGroup(w.child, 'SIGCONT');
      misses += 1;
    }
    await sleep(50);
  }
  return undefined;
}

/**
 * Sum of the peak RSS (VmHWM) of the live processes of process group `pgid`, in MiB: the group's
 * peak when it is one process, an upper bound otherwise.
 */
export async function groupPeakRssMiB(pgid: number): Promise<{ processes: number; peakMiB: number }> {
  let processes = 0;
  let kib = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces and parentheses): state ppid pgrp …
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp !== pgid) continue;
      const hwm = /^VmHWM:\s+(\d+) kB/m.exec(await readFile(`/proc/${entry}/status`, 'utf8'));
      processes += 1;
      kib += Number(hwm?.[1] ?? 0);
    } catch {
      // The process exited while being read.
    }
  }
  return { processes, peakMiB: Math.round(kib / 1024) };
}

/**
 * How many versions each key under `prefix` has (keys relative to the settings' S3 prefix, as the
 * store names them) when the bucket keeps versions; undefined when versioning was never enabled
 * on it, so that a key holds exactly one object.
 */
export async function objectVersions(settings: Pick<StackSettings, 's3'>, prefix: string): Promise<Map<string, number> | undefined> {
  const s3 = settings.s3;
  const client = new S3Client({ region: s3.region, forcePathStyle: s3.forcePathStyle, ...(s3.endpoint !== undefined ? { endpoint: s3.endpoint } : {}) });
  try {
    const state = await client.send(new GetBucketVersioningCommand({ Bucket: s3.bucket }));
    if (state.Status === undefined) return undefined;
    const full = s3.prefix === '' ? prefix : `${s3.prefix}/${prefix}`;
    const counts = new Map<string, number>();
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    do {
      const page = await client.send(new ListObjectVersionsCommand({ Bucket: s3.bucket, Prefix: full, KeyMarker: keyMarker, VersionIdMarker: versionMarker }));
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        const key = v.Key!.slice(full.length - prefix.length);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker !== undefined);
    return counts;
  } finally {
    client.destroy();
  }
}
