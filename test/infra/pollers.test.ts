/**
 * A task queue's live pollers (infra/temporal/pollers.ts) leave out the pollers of processes of
 * this host that have died: the Temporal server keeps listing a killed worker's poller for about
 * a minute, and `cc2d run`/`predict` would otherwise wait for that ghost before hosting workers of
 * their own. Unit cases for the identity check; then a REAL worker process (`cc2d worker`) on a
 * queue of its own against the REAL Temporal dev server, killed with SIGKILL: the server still lists
 * its poller (the fault), `queuePollers` does not.
 */
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import proto from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../../infra/temporal/connect';
import { isDeadLocalPoller, queuePollers } from '../../infra/temporal/pollers';
import { SKIPPED, requireStack } from '../support/stack';

const { TaskQueueType, TaskQueueKind } = proto.temporal.api.enums.v1;
const host = os.hostname();

/** The pid of a process that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('isDeadLocalPoller', () => {
  it('is true only for an identity naming a process of this host that has exited', () => {
    const gone = deadPid();
    expect(isDeadLocalPoller(`${gone}@${host}`)).toBe(true);
    expect(isDeadLocalPoller(`${gone}@${host}/gpu`)).toBe(true);
    expect(isDeadLocalPoller(`cc2d-run-${gone}@${host}/cpu`)).toBe(true);
    expect(isDeadLocalPoller(`${process.pid}@${host}/gpu`)).toBe(false); // alive
    expect(isDeadLocalPoller(`${gone}@another-host/gpu`)).toBe(false); // not ours to judge
    expect(isDeadLocalPoller('gpu-box-7')).toBe(false); // no pid@host: kept
    expect(isDeadLocalPoller('1@' + host)).toBe(false); // init exists (EPERM or alive)
  });
});

const stack = await requireStack('pollers', { s3: false });

describe.skipIf(!stack)('queuePollers against the real server', () => {
  const { settings } = stack ?? SKIPPED;
  const queue = `cc2d-cpu-t-pollers-${process.pid}`;
  let client: Client;
  beforeAll(async () => {
    client = await connectClient(settings);
  });
  afterAll(async () => {
    await client?.connection.close();
    await stack?.cleanup();
  });

  async function serverPollers(): Promise<string[]> {
    const res = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace, taskQueue: { name: queue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL }, taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    });
    return (res.pollers ?? []).map((p) => p.identity ?? '');
  }

  it('drops the poller of a worker process killed with SIGKILL at once, while the server still lists it', async () => {
    const root = path.resolve(import.meta.dirname, '..', '..');
    const worker = spawn(process.execPath, [path.join(root, 'bin/cc2d.mjs'), 'worker', '--queues', 'cpu', '--cpu-queue', queue, '--log-level', 'WARN'], {
      cwd: root, env: { ...process.env }, stdio: 'ignore',
    });
    try {
      const identity = `${worker.pid}@${host}/cpu`;
      const deadline = Date.now() + 90_000;
      while (!(await queuePollers(client, queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)).includes(identity)) {
        if (Date.now() > deadline) throw new Error(`worker ${identity} never polled ${queue}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGKILL');
      await exited;
      expect(await serverPollers()).toContain(identity); // the server still lists the dead worker
      expect(await queuePollers(client, queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)).not.toContain(identity);
    } finally {
      if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    }
  }, 120_000);
});
