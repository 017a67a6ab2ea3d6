/**
 * Load on the REAL Temporal dev server and S3: 8 smoke runs started at once against 2 worker
 * processes (`cc2d worker`, each polling the workflow, GPU and CPU queues of this file) all
 * complete, none is lost, both processes take work, and each ends with the weights and metrics
 * of the same run started alone. Smallest profile, 4 + 2 images, one shard: about a minute.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineResult } from '../../contracts/types';
import { PROJECT_ROOT } from '../../infra/config/stack';
import { createHarness, type PipelineHarness } from './support/harness';

const h = await createHarness('load', { dataset: { train: 4, test1: 2 } });
const RUNS = 8;
const children: ChildProcess[] = [];

/** A `cc2d worker` process on this file's queues and S3 prefix; resolves once it is ready. */
async function spawnWorker(H: PipelineHarness, identity: string): Promise<ChildProcess> {
  const args = ['worker', '--allow-cpu', '--identity', identity, '--log-level', 'WARN', '--workflow-queue', H.queues.workflows, '--gpu-queue', H.queues.gpu, '--cpu-queue', H.queues.cpu];
  const env = { ...process.env, CC2D_S3_PREFIX: H.stack.settings.s3.prefix, CC2D_TEMPORAL_NAMESPACE: H.stack.namespace };
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'cc2d.mjs'), ...args], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const t0 = Date.now();
  while (!out.includes('cc2d worker ready')) {
    if (child.exitCode !== null) throw new Error(`worker ${identity} exited early (${child.exitCode}):\n${err}`);
    if (Date.now() - t0 > 120_000) throw new Error(`worker ${identity} not ready after 120 s:\n${err}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return child;
}

describe.skipIf(!h)('load: concurrent runs on two worker processes', () => {
  const H = h as PipelineHarness;

  beforeAll(async () => {
    await Promise.all([spawnWorker(H, 'load-1'), spawnWorker(H, 'load-2')]);
  }, 240_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await H?.cleanup();
  }, 120_000);

  it(`${RUNS} smoke runs started at once all complete, none lost, each equal to the same run alone`, async () => {
    const input = H.input({ pseudoLabelShards: 1 });
    const tAlone = Date.now();
    const alone = (await (await H.start(input, H.runId('alone'))).result()) as PipelineResult;
    const aloneS = (Date.now() - tAlone) / 1000;
    expect(alone.status).toBe('completed');

    const t0 = Date.now();
    const handles = await Promise.all(Array.from({ length: RUNS }, (_, i) => H.start(input, H.runId(`load${i}`))));
    const results = (await Promise.all(handles.map((x) => x.result()))) as PipelineResult[];
    console.log(`${RUNS} concurrent smoke runs on 2 worker processes: ${((Date.now() - t0) / 1000).toFixed(1)} s (one alone: ${aloneS.toFixed(1)} s)`);

    expect(results.map((r) => r.runId)).toEqual(handles.map((x) => x.workflowId));
    for (const r of results) {
      expect(r.status).toBe('completed');
      expect(r.artifacts.sslWeights.sha256).toBe(alone.artifacts.sslWeights.sha256);
      expect(r.artifacts.tplWeights.sha256).toBe(alone.artifacts.tplWeights.sha256);
      expect(r.metrics).toEqual(alone.metrics);
    }
    // Both processes took activities.
    const identities = new Set<string>();
    for (const x of handles) {
      for (const e of (await x.fetchHistory()).events ?? []) {
        const id = e.activityTaskStartedEventAttributes?.identity;
        if (id) identities.add(id.split('/')[0]!);
      }
    }
    expect([...identities].sort()).toEqual(['load-1', 'load-2']);
  }, 600_000);
});
