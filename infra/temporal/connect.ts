/**
 * Temporal connections built from the stack settings (infra/config/stack.ts): a client
 * `Connection` for the CLI and a `NativeConnection` for workers. mTLS material is read from the
 * paths in the settings; nothing secret is logged or put in payloads.
 */
import { readFile } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { StackSettings } from '../config/stack';

async function tlsOptions(settings: StackSettings): Promise<boolean | { clientCertPair: { crt: Buffer; key: Buffer } }> {
  const t = settings.temporal;
  if (t.clientCertPath && t.clientKeyPath) {
    return { clientCertPair: { crt: await readFile(t.clientCertPath), key: await readFile(t.clientKeyPath) } };
  }
  return t.tls;
}

/** A client for starting, querying and listing runs. Close with `client.connection.close()`. */
export async function connectClient(settings: StackSettings, connectTimeout = '10s'): Promise<Client> {
  const connection = await Connection.connect({
    address: settings.temporal.address,
    tls: await tlsOptions(settings),
    connectTimeout,
  });
  return new Client({ connection, namespace: settings.temporal.namespace });
}

/** The connection workers poll through. Close with `connection.close()` after the workers stop. */
export async function connectWorker(settings: StackSettings): Promise<NativeConnection> {
  return NativeConnection.connect({ address: settings.temporal.address, tls: await tlsOptions(settings) });
}
