/**
 * TEST-ONLY: a private Temporal dev server + SeaweedFS (own tmp data dir, own ports) for fault
 * tests that stop S3 and restart Temporal: faults never touch the shared dev stack other test
 * files and helpers use. Binaries come from `npm run setup` (.tools/venv/bin); under CI or
 * CC2D_TEST_STRICT a missing binary fails the file instead of skipping it (a failed start always
 * fails it).
 *
 * Side effect (this test process only): process.env points the project's stack settings at the
 * private stack and carries its generated S3 keys, so everything the test builds (and any child
 * worker it spawns with `childEnv`) talks to it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseStackSettings, resetStackSettingsCache, type StackSettings } from '../../../infra/config/stack';
import { devDown, devStackLayout, devUp, type DevStackLayout } from '../../../infra/stack/dev-stack';
import { readLocalCredentials } from '../../../infra/stack/local-credentials';
import { createS3Store } from '../../../infra/storage/s3-store';
import type { TestStack } from '../../support/stack';
import { requireServerBinaries } from '../../support/strict';

export interface IsolatedStack extends TestStack {
  layout: DevStackLayout;
  /** Environment for child processes (workers, CLI) that must use this stack and prefix. */
  childEnv: NodeJS.ProcessEnv;
}

/** Ports distinct from the shared stack (7233/8333…) and the dev-stack lifecycle test (17233/18433…). */
const PORTS = { temporalPort: 27233, temporalUiPort: 27234, s3Port: 28433, masterPort: 29433, volumePort: 29434, filerPort: 29435 };

export interface IsolatedStackOptions {
  /**
   * Added to every port, so test files with different offsets can run at the same time (one file
   * per offset: the ports are fixed). Multiples of 20 keep the sets apart; 0 is faults.test.ts.
   */
  portOffset?: number;
}

export async function startIsolatedStack(name: string, opts: IsolatedStackOptions = {}): Promise<IsolatedStack | undefined> {
  if (!requireServerBinaries(name)) return undefined;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-faults-stack-'));
  const bucket = 'cc2d-faults';
  const base = parseStackSettings({ CC2D_DATA_DIR: dir });
  const offset = opts.portOffset ?? 0;
  const ports = Object.fromEntries(Object.entries(PORTS).map(([k, v]) => [k, v + offset])) as typeof PORTS;
  const layout = devStackLayout(base, { ...ports, bucket });
  try {
    await devUp(layout, { timeoutMs: 120_000 });
  } catch (err) {
    await devDown(layout, { timeoutMs: 5_000, signal: 'SIGKILL' }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const creds = await readLocalCredentials(dir);
  if (!creds) throw new Error(`[${name}] the private stack wrote no S3 credentials in ${dir}`);
  const prefix = `test/${name}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = {
    CC2D_DATA_DIR: dir,
    CC2D_TEMPORAL_ADDRESS: layout.temporal.address,
    CC2D_TEMPORAL_NAMESPACE: layout.temporal.namespace,
    CC2D_S3_ENDPOINT: layout.s3.endpoint,
    CC2D_S3_BUCKET: bucket,
    CC2D_S3_PREFIX: prefix,
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
  };
  Object.assign(process.env, env);
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SHARED_CREDENTIALS_FILE;
  resetStackSettingsCache();
  const settings: StackSettings = parseStackSettings({ ...process.env });
  const store = createS3Store(settings);
  return {
    settings,
    store,
    temporalAddress: layout.temporal.address,
    namespace: layout.temporal.namespace,
    layout,
    childEnv: { ...process.env, ...env },
    async cleanup() {
      store.destroy();
      await devDown(layout, { timeoutMs: 5_000, signal: 'SIGKILL' }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
