/**
 * Test access to the real stack (Temporal dev server + SeaweedFS S3 from `npx cc2d dev up`,
 * or whatever CC2D_* points at).
 *
 *   const stack = await requireStack('s3-store');          // top level of the test file
 *   describe.skipIf(!stack)('...', () => { const { store } = stack!; ... });
 *   afterAll(() => stack?.cleanup());
 *
 * When the stack is unreachable: with `CI` set, requireStack THROWS (the file fails, it is never
 * silently skipped); locally it returns undefined and prints why, so the suite skips.
 * Each call gets its own S3 key prefix (`<CC2D_S3_PREFIX>/test/<name>-<random>`), so test files
 * running in parallel never see each other's objects.
 */
import { randomBytes } from 'node:crypto';
import { loadStackSettings, type StackSettings } from '../../infra/config/stack';
import { checkS3, checkTemporal } from '../../infra/stack/checks';
import { createS3Store, type S3ObjectStore } from '../../infra/storage/s3-store';

export interface TestStack {
  /** Settings whose s3.prefix is this test's unique prefix. */
  settings: StackSettings;
  /** Store rooted at the unique prefix. */
  store: S3ObjectStore;
  temporalAddress: string;
  namespace: string;
  /** Deletes every object under the unique prefix and closes the client. */
  cleanup(): Promise<void>;
}

export interface RequireStackOptions {
  s3?: boolean;
  temporal?: boolean;
}

function isCi(): boolean {
  const v = process.env.CI;
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

export async function requireStack(name: string, need: RequireStackOptions = { s3: true, temporal: false }): Promise<TestStack | undefined> {
  const base = loadStackSettings();
  const problems: string[] = [];
  const [s3, temporal] = await Promise.all([
    need.s3 !== false ? checkS3(base, 10_000) : Promise.resolve(undefined),
    need.temporal ? checkTemporal(base, 5_000) : Promise.resolve(undefined),
  ]);
  if (s3 && !s3.ok) problems.push(`S3: ${s3.reason}`);
  if (temporal && !temporal.ok) problems.push(`Temporal: ${temporal.reason}`);
  if (problems.length > 0) {
    const msg = `[${name}] dev stack unreachable (${problems.join('; ')}). Start it with \`npx cc2d dev up\`.`;
    if (isCi()) throw new Error(`${msg} CI is set, so this fails instead of skipping.`);
    console.warn(`${msg} Skipping (set CI=1 to make this a failure).`);
    return undefined;
  }
  const safe = name.replace(/[^A-Za-z0-9._-]/g, '-');
  const unique = `test/${safe}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const settings: StackSettings = { ...base, s3: { ...base.s3, prefix: base.s3.prefix === '' ? unique : `${base.s3.prefix}/${unique}` } };
  const store = createS3Store(settings);
  return {
    settings,
    store,
    temporalAddress: base.temporal.address,
    namespace: base.temporal.namespace,
    async cleanup() {
      try {
        const keys = (await store.list('')).map((o) => o.key);
        if (keys.length > 0) await store.delete(keys);
      } finally {
        store.destroy();
      }
    },
  };
}
