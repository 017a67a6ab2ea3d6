/**
 * Event-loop starvation on the REAL Temporal dev server and S3: a `cc2d worker` serving all three
 * queues (the hosting of `cc2d run`'s local workers) runs its activity queues in a child process,
 * so while a training activity blocks that process for seconds per step, the `progress` query is
 * still answered by the parent within 2 s every time and its step advances.
 *
 * Negative control: the same run with `CC2D_ACTIVITIES_IN_PROCESS=1` (the old one-process hosting)
 * has queries that wait for a training step to end: at least one takes longer than 2 s or times
 * out. SSL shapes are larger than `smoke` (256 px, batch 8, width 0.25: seconds per step on 2 cores)
 * so that one native step blocks longer than the query timeout.
 * Also: the activity process does not outlive a `cc2d worker` killed with SIGKILL.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import proto from '@temporalio/proto';
import type { WorkflowHandle } from '@temporalio/client';
import type { PipelineProgress } from '../../contracts/types';
import { progressQuery } from '../../workflows/definitions';
import { IN_PROCESS_ENV } from '../../workers/activity-process';
import { ChildProcesses, sleep, type CliProcess } from './support/fault-runs';
import { createHarness, type PipelineHarness } from './support/harness';

const h = await createHarness('event-loop', { dataset: { train: 4, test1: 2 } });
const { PendingActivityState } = proto.temporal.api.enums.v1;

const QUERY_TIMEOUT_MS = 2_000;
const WINDOW_MS = 20_000;
// A slow or loaded machine may not see the step move in WINDOW_MS (first steps build kernels; a
// step took seconds under CI load): sampling goes on until it has moved, up to this long.
const MAX_WINDOW_MS = 120_000;
const CONFIG = {
  pseudoLabelShards: 1,
  checkpointEvery: 5,
  // The child run's window goes past WINDOW_MS only until two different steps have been answered,
  // so SSL could end inside it only at < 0.1 s per step (measured here: ≈ 1 s, step 0 → 19 in 20 s).
  // 200 steps: the activity signals every 2 steps (activities/progress.ts: about 100 signals per
  // activity) besides each checkpoint.
  overrides: { inputSize: 256, ssl: { width: 0.25, batchSize: 8, steps: 200 } },
} as const;

interface Sample {
  /** When the query was sent (epoch ms). */
  at: number;
  ms: number;
  timedOut: boolean;
  step?: number;
}

async function spawnAllQueuesWorker(H: PipelineHarness, kids: ChildProcesses, identity: string, extraEnv: NodeJS.ProcessEnv): Promise<CliProcess> {
  const env = { ...process.env, CC2D_S3_PREFIX: H.stack.settings.s3.prefix, CC2D_TEMPORAL_NAMESPACE: H.stack.namespace, ...extraEnv };
  const args = ['--allow-cpu', '--identity', identity, '--log-level', 'WARN', '--workflow-queue', H.queues.workflows, '--gpu-queue', H.queues.gpu, '--cpu-queue', H.queues.cpu];
  return kids.spawnReadyWorker(args, identity, env, 120_000);
}

async function sslRunning(handle: WorkflowHandle): Promise<boolean> {
  const { raw } = await handle.describe();
  return (raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'trainSelfSupervised' && a.state === PendingActivityState.PENDING_ACTIVITY_STATE_STARTED);
}

interface Window {
  samples: Sample[];
  ms: number;
}

function sslSteps(samples: Sample[]): number[] {
  return samples.flatMap((s) => (s.step === undefined ? [] : [s.step]));
}

/**
 * Queries `progress` every ~250 ms (2 s timeout each) while SSL runs: for WINDOW_MS, and with
 * `untilStepMoves` on until the answered step has moved (at most MAX_WINDOW_MS).
 */
async function sampleWhileTraining(handle: WorkflowHandle, untilStepMoves: boolean): Promise<Window> {
  const t0 = Date.now();
  while (!(await sslRunning(handle))) {
    if (Date.now() - t0 > 180_000) throw new Error('SSL did not start within 180 s');
    await sleep(250);
  }
  const samples: Sample[] = [];
  const start = Date.now();
  const moved = (): boolean => new Set(sslSteps(samples)).size > 1;
  while (Date.now() - start < WINDOW_MS || (untilStepMoves && !moved() && Date.now() - start < MAX_WINDOW_MS)) {
    const q0 = Date.now();
    const answer = await Promise.race([
      handle.query(progressQuery).then((p: PipelineProgress) => p, () => undefined),
      sleep(QUERY_TIMEOUT_MS).then(() => 'timeout' as const),
    ]);
    const ms = Date.now() - q0;
    if (answer === 'timeout' || answer === undefined) samples.push({ at: q0, ms, timedOut: true });
    else samples.push({ at: q0, ms, timedOut: false, ...(answer.stage === 'ssl' ? { step: answer.step } : {}) });
    await sleep(Math.max(0, 250 - ms));
  }
  const ms = Date.now() - start;
  expect(await sslRunning(handle), 'the SSL activity lasted the whole query window').toBe(true);
  return { samples, ms };
}

function summary({ samples, ms: windowMs }: Window): string {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const steps = sslSteps(samples);
  return `${samples.length} queries in ${Math.round(windowMs / 1000)} s, ${samples.filter((s) => s.timedOut).length} timed out, latency median ${ms[Math.floor(ms.length / 2)]} ms, max ${ms[ms.length - 1]} ms, ssl step ${steps.length > 0 ? `${Math.min(...steps)} → ${Math.max(...steps)}` : 'never answered'}`;
}

/** Starts the run on a worker process with `extraEnv`, samples, then terminates the run and drains the worker. */
async function measure(H: PipelineHarness, tag: string, extraEnv: NodeJS.ProcessEnv, untilStepMoves: boolean): Promise<Window> {
  const kids = new ChildProcesses(process.env);
  const worker = await spawnAllQueuesWorker(H, kids, `event-loop-${tag}`, extraEnv);
  try {
    const handle = await H.start(H.input(CONFIG), H.runId(tag));
    const window = await sampleWhileTraining(handle, untilStepMoves);
    console.log(`${tag}: ${summary(window)}`);
    await handle.terminate('event-loop test: measured');
    worker.child.kill('SIGTERM');
    expect(await worker.exit, worker.err()).toBe(0);
    return window;
  } finally {
    kids.killAll();
  }
}

describe.skipIf(!h)('event loop: training does not starve workflow tasks and queries', () => {
  const H = h as PipelineHarness;

  afterAll(async () => {
    await H?.cleanup();
  }, 120_000);

  it('activity queues in a child process: every progress query during SSL answers within 2 s and the step advances', async () => {
    const { samples, ms } = await measure(H, 'child', {}, true);
    expect(samples.length).toBeGreaterThan(ms / (QUERY_TIMEOUT_MS + 250));
    expect(samples.filter((s) => s.timedOut)).toEqual([]);
    const steps = sslSteps(samples);
    expect(steps.length).toBe(samples.length);
    for (let i = 1; i < steps.length; i++) expect(steps[i]).toBeGreaterThanOrEqual(steps[i - 1]!);
    expect(steps[steps.length - 1]!).toBeGreaterThan(steps[0]!);
  }, 600_000);

  it('negative control, one process (CC2D_ACTIVITIES_IN_PROCESS=1): some query waits for a training step (over half a step, or timed out)', async () => {
    // A fixed window: in one process most queries time out, so the step is rarely answered twice.
    const { samples } = await measure(H, 'inproc', { [IN_PROCESS_ENV]: '1' }, false);
    // A query that arrives while a native step runs waits for the rest of that step. How long a
    // step is depends on the machine (≈ 1 s quiet, several under load), so the bar is half the
    // step time measured between the first and the last answered step, or the 2 s timeout when
    // fewer than two different steps were answered.
    const answered = samples.filter((s) => s.step !== undefined);
    const [first, last] = [answered[0], answered.at(-1)];
    const advanced = first && last ? last.step! - first.step! : 0;
    const stepMs = advanced > 0 ? (last!.at + last!.ms - (first!.at + first!.ms)) / advanced : Infinity;
    const bar = Math.min(QUERY_TIMEOUT_MS, stepMs / 2);
    const blocked = samples.filter((s) => s.timedOut || s.ms > bar);
    console.log(`inproc: step ≈ ${Number.isFinite(stepMs) ? Math.round(stepMs) : '?'} ms, bar ${Math.round(bar)} ms, ${blocked.length} blocked queries`);
    expect(blocked.length).toBeGreaterThan(0);
  }, 600_000);

  it('kill -9 of the worker: its activity process exits too (no orphan polling the queues)', async () => {
    const kids = new ChildProcesses(process.env);
    try {
      const worker = await spawnAllQueuesWorker(H, kids, 'event-loop-orphan', {});
      // Other children (tsx's esbuild service) may be listed too: the activity process is the `worker --queues gpu,cpu` one.
      const children = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(worker.child.pid)], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.includes('worker --queues gpu,cpu'))
        .map((l) => Number(l.trim().split(/\s+/)[0]));
      expect(children.length).toBe(1);
      worker.child.kill('SIGKILL');
      const alive = (pid: number): boolean => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      const t0 = Date.now();
      while (alive(children[0]!) && Date.now() - t0 < 30_000) await sleep(200);
      expect(alive(children[0]!)).toBe(false);
    } finally {
      kids.killAll();
    }
  }, 300_000);
});
