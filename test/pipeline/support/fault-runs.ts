/**
 * TEST-ONLY helpers shared by the fault test files (faults, drain-fencing, corrupt-bytes), each on
 * its own private stack: the fault config, child `cc2d` processes (workers, CLI), waiting for
 * checkpoints, and the checks against an uninterrupted reference run (same weights, same metrics,
 * no orphan objects).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, expect } from 'vitest';
import type { PipelineResult } from '../../../contracts/types';
import type { RunConfigInput } from '../../../infra/config/run-config';
import { PROJECT_ROOT } from '../../../infra/config/stack';
import { promotionKey } from '../../../infra/models/champion';
import { runPrefix } from '../../../infra/storage/keys';
import { readManifest } from '../../../infra/storage/manifest';
import type { PipelineHarness } from './harness';
import type { IsolatedStack } from './isolated-stack';

const CLI = path.join(PROJECT_ROOT, 'bin', 'cc2d.mjs');

/** SSL long enough to crash in the middle; checkpoints every 10 steps. */
export const FAULT_CONFIG = { overrides: { ssl: { steps: 150 } }, checkpointEvery: 10, heartbeatTimeoutSeconds: 5 } as const;

export type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface CliProcess {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

/** `cc2d` child processes of one test file; `killAll` in afterAll. */
export class ChildProcesses {
  readonly children: ChildProcess[] = [];
  private readonly groups = new Set<ChildProcess>();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** `ownGroup`: the child leads its own process group, so `killGroup` also reaches any process it starts. */
  spawnCli(args: string[], env: NodeJS.ProcessEnv = this.env, opts: { ownGroup?: boolean } = {}): CliProcess {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.ownGroup ?? false });
    this.children.push(child);
    if (opts.ownGroup) this.groups.add(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, out: () => out, err: () => err, exit };
  }

  /** `npx cc2d worker` as a child process; resolves once it prints its ready line. */
  async spawnWorker(identity: string, gpuQueue: string, env: NodeJS.ProcessEnv = this.env): Promise<CliProcess> {
    return this.spawnQueueWorker(identity, ['--queues', 'gpu', '--allow-cpu', '--gpu-queue', gpuQueue], { env });
  }

  /** `npx cc2d worker <queueArgs>` as a child process; resolves once it prints its ready line. */
  async spawnQueueWorker(identity: string, queueArgs: string[], opts: { env?: NodeJS.ProcessEnv; ownGroup?: boolean; readyTimeoutMs?: number } = {}): Promise<CliProcess> {
    return this.spawnReadyWorker([...queueArgs, '--identity', identity, '--log-level', 'WARN'], identity, opts.env ?? this.env, opts.readyTimeoutMs ?? 90_000, opts.ownGroup ?? false);
  }

  /** `npx cc2d worker <args>`; resolves once it prints its ready line. */
  async spawnReadyWorker(args: string[], identity: string, env: NodeJS.ProcessEnv = this.env, timeoutMs = 90_000, ownGroup = false): Promise<CliProcess> {
    const w = this.spawnCli(['worker', ...args], env, { ownGroup });
    const t0 = Date.now();
    while (!w.out().includes('cc2d worker ready')) {
      if (w.child.exitCode !== null) throw new Error(`worker ${identity} exited early (${w.child.exitCode}):\n${w.err()}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`worker ${identity} not ready after ${timeoutMs / 1000} s:\n${w.err()}`);
      await sleep(200);
    }
    return w;
  }

  /** Signals the process group a child leads (`ownGroup`); false when none of it is left. */
  killGroup(child: ChildProcess, signal: NodeJS.Signals): boolean {
    try {
      process.kill(-child.pid!, signal);
      return true;
    } catch {
      return false;
    }
  }

  killAll(): void {
    for (const c of this.children) {
      if (this.groups.has(c)) {
        this.killGroup(c, 'SIGCONT');
        this.killGroup(c, 'SIGKILL');
        continue;
      }
      if (c.exitCode !== null || c.signalCode !== null) continue;
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    }
  }
}

export async function checkpointSteps(H: PipelineHarness, runId: string, kind: 'ssl' | 'tpl'): Promise<number[]> {
  const listed = await H.deps.store.list(`${runPrefix(runId)}/${kind}/ckpt/`);
  return listed.filter((o) => o.key.endsWith('/manifest.json')).map((o) => Number(/ckpt\/(\d+)-a/.exec(o.key)![1]));
}

export async function waitForCheckpoints(H: PipelineHarness, runId: string, n: number, timeoutMs = 120_000): Promise<number[]> {
  const t0 = Date.now();
  for (;;) {
    const steps = await checkpointSteps(H, runId, 'ssl');
    if (steps.length >= n) return steps;
    if (Date.now() - t0 > timeoutMs) throw new Error(`fewer than ${n} SSL checkpoints after ${timeoutMs} ms`);
    await sleep(150);
  }
}

/** handle.result(), riding out a Temporal server restart (only real workflow failures are thrown). */
export async function resultOf(handle: WorkflowHandle): Promise<PipelineResult> {
  const t0 = Date.now();
  for (;;) {
    try {
      return (await handle.result()) as PipelineResult;
    } catch (err) {
      if (err instanceof WorkflowFailedError || Date.now() - t0 > 240_000) throw err;
      await sleep(1000);
    }
  }
}

export interface RunReport {
  stages: { ssl: { resumedFromStep: number; attempt: number }; tpl: { resumedFromStep: number } };
}

export async function reportOf(H: PipelineHarness, r: PipelineResult): Promise<RunReport> {
  return JSON.parse(new TextDecoder().decode(await H.deps.store.get(r.reportKey))) as RunReport;
}

/**
 * Every object of a completed run is published (in its manifest) or checkpoint/marker state. The
 * promotion gate runs after publication, so its decision record is the one object outside the manifest.
 */
export async function expectNoOrphans(H: PipelineHarness, runId: string): Promise<void> {
  const prefix = runPrefix(runId);
  const manifest = await readManifest(H.deps.store, prefix, { verify: 'hashes' });
  const published = new Set([...manifest.files.map((f) => `${prefix}/${f.key}`), `${prefix}/manifest.json`, promotionKey(runId)]);
  const orphans = (await H.deps.store.list(`${prefix}/`))
    .map((o) => o.key)
    .filter((k) => !published.has(k) && !/\/(ssl|tpl)\/ckpt\//.test(k) && !/\/(ssl|tpl)\/done\.json$/.test(k));
  expect(orphans).toEqual([]);
}

export function sameResult(r: PipelineResult, baseline: PipelineResult): void {
  expect(r.artifacts.sslWeights.sha256).toBe(baseline.artifacts.sslWeights.sha256);
  expect(r.artifacts.tplWeights.sha256).toBe(baseline.artifacts.tplWeights.sha256);
  expect(r.metrics).toEqual(baseline.metrics);
  expect(r.mreMm).toBe(baseline.mreMm);
}

/** The reference the fault runs are compared with: the same config, nothing interrupted. */
export async function uninterruptedRun(H: PipelineHarness, config: Partial<RunConfigInput>): Promise<PipelineResult> {
  return (await uninterruptedRunWithHistory(H, config)).result;
}

/** `uninterruptedRun` and its workflow history, for comparing how often each activity ran. */
export async function uninterruptedRunWithHistory(H: PipelineHarness, config: Partial<RunConfigInput>): Promise<{ result: PipelineResult; history: History }> {
  const t0 = Date.now();
  const handle = await H.start(H.input(config), H.runId('baseline'));
  const baseline = await resultOf(handle);
  const history = await handle.fetchHistory();
  console.log(`uninterrupted run: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  expect(baseline.status).toBe('completed');
  expect((await reportOf(H, baseline)).stages.ssl.resumedFromStep).toBe(0);
  await expectNoOrphans(H, baseline.runId);
  return { result: baseline, history };
}

/**
 * The hooks of a fault test file: the harness's own workers (workflows, cpu, gpu) in-process
 * before its tests; afterwards the child processes killed, `teardown` run, harness and stack removed.
 */
export function faultFileHooks(H: PipelineHarness, S: IsolatedStack, kids: ChildProcesses, teardown?: () => Promise<void>): void {
  beforeAll(async () => {
    await H.workers(['workflows', 'cpu', 'gpu'], 'in-process');
  }, 120_000);

  afterAll(async () => {
    kids.killAll();
    await teardown?.();
    await H?.cleanup();
    await S?.cleanup();
  }, 120_000);
}

/**
 * Starts a run whose GPU work goes to a `cc2d worker` child process on its own queue, and waits
 * for its first two SSL checkpoints (the moment the fault tests strike).
 */
export async function runOnChildWorker(
  H: PipelineHarness,
  kids: ChildProcesses,
  config: Partial<RunConfigInput>,
  names: { queue: string; worker: string; run: string },
): Promise<{ gpuQueue: string; worker: CliProcess; handle: WorkflowHandle; before: number[] }> {
  const gpuQueue = `${H.queues.gpu}-${names.queue}`;
  const worker = await kids.spawnWorker(names.worker, gpuQueue);
  const handle = await H.start(H.input({ ...config, taskQueues: { gpu: gpuQueue } }), H.runId(names.run));
  const before = await waitForCheckpoints(H, handle.workflowId, 2);
  return { gpuQueue, worker, handle, before };
}
