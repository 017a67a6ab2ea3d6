/**
 * Connection options for @temporalio/client / @temporalio/worker from the stack settings:
 * address, and TLS / mTLS when configured (CC2D_TEMPORAL_TLS, CC2D_TEMPORAL_TLS_CERT/KEY).
 * An API key (Temporal Cloud) is read from TEMPORAL_API_KEY here and never stored in settings.
 * Returns a plain object usable as `ConnectionOptions` and `NativeConnectionOptions`.
 */
import { promises as fs } from 'node:fs';
import type { StackSettings } from '../config/stack';

export interface TemporalConnectionOptions {
  address: string;
  tls?: boolean | { clientCertPair?: { crt: Buffer; key: Buffer } };
  apiKey?: string;
}

export async function temporalConnectionOptions(
  settings: Pick<StackSettings, 'temporal'>,
  env: Record<string, string | undefined> = process.env,
): Promise<TemporalConnectionOptions> {
  const t = settings.temporal;
  const apiKey = env.TEMPORAL_API_KEY?.trim();
  let tls: TemporalConnectionOptions['tls'];
  if (t.clientCertPath !== undefined && t.clientKeyPath !== undefined) {
    tls = { clientCertPair: { crt: await fs.readFile(t.clientCertPath), key: await fs.readFile(t.clientKeyPath) } };
  } else if (t.tls || apiKey) {
    tls = true;
  }
  return { address: t.address, ...(tls !== undefined ? { tls } : {}), ...(apiKey ? { apiKey } : {}) };
}
