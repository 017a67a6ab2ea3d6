/**
 * The one Temporal connection module: the client `Connection` (CLI, dashboard, doctor) and the
 * worker `NativeConnection` get the same address, TLS and API key from the same settings. The
 * SDK's connect functions are replaced by recorders: no server is needed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseStackSettings } from '../../infra/config/stack';
import { checkTemporal } from '../../infra/stack/checks';
import { connectClient, connectWorker, temporalConnectionOptions, withClient } from '../../infra/temporal/connect';

const recorded = vi.hoisted(() => ({ client: [] as unknown[], worker: [] as unknown[], closed: 0 }));

vi.mock('@temporalio/client', () => ({
  Connection: {
    connect: async (options: unknown) => {
      recorded.client.push(options);
      return { close: async () => void recorded.closed++ };
    },
  },
  Client: class {
    readonly connection: unknown;
    readonly namespace: string;
    constructor(o: { connection: unknown; namespace: string }) {
      this.connection = o.connection;
      this.namespace = o.namespace;
    }
  },
}));

vi.mock('@temporalio/worker', () => ({
  NativeConnection: {
    connect: async (options: unknown) => {
      recorded.worker.push(options);
      return {};
    },
  },
}));

const CLOUD = { CC2D_TEMPORAL_ADDRESS: 'ml-prod.a1b2c.tmprl.cloud:7233', CC2D_TEMPORAL_NAMESPACE: 'ml-prod.a1b2c', CC2D_S3_ENDPOINT: 'aws' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-connect-'));
  await writeFile(path.join(dir, 'client.pem'), 'CERT');
  await writeFile(path.join(dir, 'client.key'), 'KEY');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

beforeEach(() => {
  recorded.client.length = 0;
  recorded.worker.length = 0;
  recorded.closed = 0;
  vi.unstubAllEnvs();
});

describe('temporal connection options', () => {
  it('sends TEMPORAL_API_KEY, over TLS, on both the client and the worker connection', async () => {
    vi.stubEnv('TEMPORAL_API_KEY', ' secret-key \n');
    const settings = parseStackSettings({ ...CLOUD });
    const client = await connectClient(settings);
    await connectWorker(settings);
    const expected = { address: 'ml-prod.a1b2c.tmprl.cloud:7233', tls: true, apiKey: 'secret-key' };
    expect(recorded.client).toEqual([{ ...expected, connectTimeout: '10s' }]);
    expect(recorded.worker).toEqual([expected]);
    expect((client as unknown as { namespace: string }).namespace).toBe('ml-prod.a1b2c');
  });

  it('doctor connects the same way as run and worker', async () => {
    vi.stubEnv('TEMPORAL_API_KEY', 'secret-key');
    await checkTemporal(parseStackSettings({ ...CLOUD }), 1_000);
    expect(recorded.client).toEqual([{ address: CLOUD.CC2D_TEMPORAL_ADDRESS, tls: true, apiKey: 'secret-key', connectTimeout: 1_000 }]);
  });

  it('sends the mTLS files to both connections, and no API key when none is set', async () => {
    vi.stubEnv('TEMPORAL_API_KEY', '');
    const settings = parseStackSettings({ ...CLOUD, CC2D_TEMPORAL_TLS_CERT: path.join(dir, 'client.pem'), CC2D_TEMPORAL_TLS_KEY: path.join(dir, 'client.key') });
    await connectClient(settings, 5_000);
    await connectWorker(settings);
    const tls = { clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') } };
    expect(recorded.client).toEqual([{ address: CLOUD.CC2D_TEMPORAL_ADDRESS, tls, connectTimeout: 5_000 }]);
    expect(recorded.worker).toEqual([{ address: CLOUD.CC2D_TEMPORAL_ADDRESS, tls }]);
  });

  it('is plain (no TLS, no key) for the local dev stack; CC2D_TEMPORAL_TLS turns TLS on', async () => {
    const local = parseStackSettings({ CC2D_S3_ENDPOINT: 'aws' });
    expect(await temporalConnectionOptions(local, {})).toEqual({ address: '127.0.0.1:7233' });
    expect(await temporalConnectionOptions(parseStackSettings({ ...CLOUD, CC2D_TEMPORAL_TLS: 'true' }), {})).toEqual({ address: CLOUD.CC2D_TEMPORAL_ADDRESS, tls: true });
  });

  it('withClient closes the connection after the callback, also when it throws', async () => {
    const settings = parseStackSettings({ CC2D_S3_ENDPOINT: 'aws' });
    expect(await withClient(settings, async () => 7)).toBe(7);
    await expect(withClient(settings, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(recorded.closed).toBe(2);
  });
});
