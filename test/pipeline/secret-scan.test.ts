/**
 * Secret leakage on the REAL Temporal dev server and S3 (docs/reliability.md#b7). A `cc2d worker`
 * process serves one run's CPU queue with the real key id and a planted fake secret key, so its
 * first S3 call gets HTTP 403 (signature mismatch) and the run fails. Then the workflow history
 * (raw protobuf bytes: every string of it), the worker's own log output (INFO, with the SDK's
 * "Activity failed" warnings), the HTML report of a completed run and the dashboard (page, JSON
 * API, report route) are scanned: none holds the planted secret, the key ids or a signature.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineResult } from '../../contracts/types';
import { PROJECT_ROOT, loadStackSettings } from '../../infra/config/stack';
import { createStoreReportSource, createTemporalRunSource } from '../../infra/dashboard/sources';
import { startDashboard } from '../../infra/dashboard/server';
import { readLocalCredentials } from '../../infra/stack/local-credentials';
import { createHarness, type PipelineHarness } from './support/harness';

const h = await createHarness('secret-scan', { dataset: { train: 4, test1: 2 } });
const PLANTED = 'PLANTEDfakeSecretKEYdoNotLeak0123456789ab';
/** A signature value (hex) after any of the names S3 and SigV4 use for it. */
const SIGNATURE_VALUE = /(X-Amz-Signature|SignatureProvided|Signature)(=|:\s*|>|%3D|":\s*")[0-9a-f]{16,}/i;
let worker: ChildProcess | undefined;
let workerLog = '';

describe.skipIf(!h)('no secret in history, worker logs, report or dashboard', () => {
  const H = h as PipelineHarness;
  const badCpuQueue = `${(h as PipelineHarness | undefined)?.queues.cpu}-badkey`;
  let keyId: string;
  let realSecret: string;

  function leaks(text: string): string[] {
    const found = [PLANTED, keyId, realSecret].filter((s) => text.includes(s));
    const sig = SIGNATURE_VALUE.exec(text);
    return sig ? [...found, sig[0]] : found;
  }

  beforeAll(async () => {
    const creds = process.env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY }
      : await readLocalCredentials(loadStackSettings().dataDir);
    if (!creds) throw new Error('no S3 credentials to take the key id from');
    keyId = creds.accessKeyId;
    realSecret = creds.secretAccessKey;
    await H.workers(['workflows', 'gpu', 'cpu']);
    const env: NodeJS.ProcessEnv = { ...process.env, CC2D_S3_PREFIX: H.stack.settings.s3.prefix, CC2D_TEMPORAL_NAMESPACE: H.stack.namespace, AWS_ACCESS_KEY_ID: keyId, AWS_SECRET_ACCESS_KEY: PLANTED };
    delete env.AWS_PROFILE;
    delete env.AWS_SHARED_CREDENTIALS_FILE;
    const args = ['worker', '--queues', 'cpu', '--cpu-queue', badCpuQueue, '--identity', 'badkey', '--log-level', 'INFO'];
    worker = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'cc2d.mjs'), ...args], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout!.on('data', (d: Buffer) => (workerLog += d.toString()));
    worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
    const t0 = Date.now();
    while (!workerLog.includes('cc2d worker ready')) {
      if (worker.exitCode !== null) throw new Error(`worker exited early (${worker.exitCode}):\n${workerLog}`);
      if (Date.now() - t0 > 120_000) throw new Error(`worker not ready after 120 s:\n${workerLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 240_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGTERM');
    await H?.cleanup();
  }, 120_000);

  it('a forced S3 403 fails the run; history, worker logs, report and dashboard hold no secret or signature', async () => {
    const bad = await H.start(H.input({ taskQueues: { cpu: badCpuQueue } }), H.runId('badkey'));
    const err = await bad.result().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const history = Buffer.from(proto.temporal.api.history.v1.History.encode(await bad.fetchHistory()).finish()).toString('latin1');
    expect(history).toMatch(/HTTP 403/); // the fault was hit
    expect(leaks(history)).toEqual([]);
    // The SDK's warning about the failed activity went through the worker's scrubbing logger.
    expect(workerLog).toMatch(/Activity failed/);
    expect(leaks(workerLog)).toEqual([]);

    const good = (await (await H.start(H.input({ pseudoLabelShards: 1 }), H.runId('good'))).result()) as PipelineResult;
    const reportHtml = new TextDecoder().decode(await H.deps.store.get(`runs/${good.runId}/report/report.html`));
    expect(reportHtml).toContain(good.runId);
    expect(leaks(reportHtml)).toEqual([]);

    const dashLog: string[] = [];
    const token = 'scan-token-'.padEnd(43, 'x');
    const dash = await startDashboard({ runs: createTemporalRunSource(H.client, { site: H.site }), reports: createStoreReportSource(H.deps.store), port: 0, token, log: (l) => dashLog.push(l) });
    try {
      const headers = { cookie: `cc2d_dashboard_${dash.port}=${token}` };
      const pages: string[] = [];
      for (const p of ['/', `/runs/${good.runId}/report`, `/api/runs/${bad.workflowId}/progress`, '/api/runs']) {
        const res = await fetch(`${dash.url.replace(/\/$/, '')}${p}`, { headers });
        pages.push(await res.text());
      }
      expect(pages[0]).toContain(bad.workflowId);
      expect(leaks([...pages, ...dashLog].join('\n'))).toEqual([]);
    } finally {
      await dash.close();
    }
  }, 600_000);
});
