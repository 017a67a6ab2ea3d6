/**
 * The one place that turns the stack settings (infra/config/stack.ts) into Temporal connections:
 * a client `Connection` for the CLI, dashboard and doctor, a worker `NativeConnection` for
 * workers. Both take their options from `temporalConnectionOptions`, so a setting honoured by
 * one is honoured by all: address, namespace, TLS / mTLS files (CC2D_TEMPORAL_TLS,
 * CC2D_TEMPORAL_TLS_CERT/KEY) and a Temporal Cloud API key (TEMPORAL_API_KEY, read at connect
 * time and never stored in settings). Nothing secret is logged or put in payloads.
 *
 * It also owns the one data converter of every client and worker (`temporalDataConverter`): with
 * a payload key configured (infra/temporal/payload-codec.ts), payloads are AES-256-GCM encrypted
 * and failure messages and stack traces are moved into an encrypted payload.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { NativeConnection } from '@temporalio/worker';
import type { StackSettings } from '../config/stack';
import { payloadCodecFromEnv } from './payload-codec';

type Env = Record<string, string | undefined>;

/** Structurally both a client `ConnectionOptions` and a worker `NativeConnectionOptions`. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: boolean | { clientCertPair: { crt: Buffer; key: Buffer } };
  apiKey?: string;
}

export async function temporalConnectionOptions(settings: Pick<StackSettings, 'temporal'>, env: Env = process.env): Promise<TemporalConnectionOptions> {
  const t = settings.temporal;
  const apiKey = env.TEMPORAL_API_KEY?.trim();
  let tls: TemporalConnectionOptions['tls'];
  if (t.clientCertPath !== undefined && t.clientKeyPath !== undefined) {
    tls = { clientCertPair: { crt: await readFile(t.clientCertPath), key: await readFile(t.clientKeyPath) } };
  } else if (t.tls || apiKey) {
    // An API key is only ever sent over TLS (Temporal Cloud requires it).
    tls = true;
  }
  return { address: t.address, ...(tls !== undefined ? { tls } : {}), ...(apiKey ? { apiKey } : {}) };
}

/** The failure converter module used while encryption is on (worker, client and workflow bundle). */
export const ENCODED_FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./encoded-failure-converter.cjs', import.meta.url));
/** A string every workflow bundle built with that converter contains. */
export const ENCODED_FAILURE_BUNDLE_MARKER = (createRequire(import.meta.url)(ENCODED_FAILURE_CONVERTER_PATH) as { BUNDLE_MARKER: string }).BUNDLE_MARKER;

/**
 * The data converter of every Temporal client and worker: undefined (the SDK default) when no
 * payload key is configured; else the AES-256-GCM codec and the encoded failure converter.
 * Throws InvalidConfigError naming the variable when the key setting is invalid.
 */
export function temporalDataConverter(env: Env = process.env): DataConverter | undefined {
  const codec = payloadCodecFromEnv(env);
  return codec ? { payloadCodecs: [codec], failureConverterPath: ENCODED_FAILURE_CONVERTER_PATH } : undefined;
}

/** A client for starting, querying and listing runs. Close with `client.connection.close()`. */
export async function connectClient(settings: Pick<StackSettings, 'temporal'>, connectTimeout: string | number = '10s', env: Env = process.env): Promise<Client> {
  const dataConverter = temporalDataConverter(env);
  const connection = await Connection.connect({ ...(await temporalConnectionOptions(settings, env)), connectTimeout });
  return new Client({ connection, namespace: settings.temporal.namespace, ...(dataConverter ? { dataConverter } : {}) });
}

/** Runs `fn` with a client and closes its connection afterwards. */
export async function withClient<T>(settings: Pick<StackSettings, 'temporal'>, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connectClient(settings);
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

/** The connection workers poll through (their namespace is `settings.temporal.namespace`). Close with `connection.close()` after the workers stop. */
export async function connectWorker(settings: Pick<StackSettings, 'temporal'>, env: Env = process.env): Promise<NativeConnection> {
  // Loaded on demand: the worker SDK's native bridge is not needed by client-only callers (doctor, test support).
  const { NativeConnection } = await import('@temporalio/worker');
  return NativeConnection.connect(await temporalConnectionOptions(settings, env));
}
