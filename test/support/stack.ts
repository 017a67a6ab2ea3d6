/**
 * Test access to the real stack (Temporal dev server + SeaweedFS S3 from `npx cc2d dev up`,
 * or whatever CC2D_* points at).
 *
 *   const stack = await requireStack('s3-store');          // top level of the test file
 *   describe.skipIf(!stack)('...', () => { const { store } = stack ?? SKIPPED; ... });
 *   afterAll(() => stack?.cleanup());
 *
 * When the stack is unreachable: under CI or CC2D_TEST_STRICT (`npm run test:all`) requireStack
 * THROWS (the file fails, it is never silently skipped); otherwise it returns undefined and
 * prints why, so the file skips (./strict.ts).
 *
 * Tests stay out of the user's runs: requireStack points this test process (and the CLI and
 * workers it starts) at the tests' Temporal namespace, TEST_NAMESPACE (`cc2d dev up` creates it;
 * CC2D_TEST_NAMESPACE overrides), and each call gets its own S3 key prefix
 * (`<CC2D_S3_PREFIX>/test/<name>-<random>`), deleted by cleanup(), so test files running in
 * parallel never see each other's objects either.
 */
import { randomBytes } from 'node:crypto';
import { loadStackSettings, resetStackSettingsCache, type StackSettings } from '../../infra/config/stack';
import { checkS3, checkTemporal } from '../../infra/stack/checks';
import { TEST_NAMESPACE } from '../../infra/stack/dev-stack';
import { createS3Store, type S3ObjectStore } from '../../infra/storage/s3-store';
import { missingDependency } from './strict';

let userSettings: StackSettings | undefined;

/**
 * The stack settings as the user's own commands see them (their namespace and S3 prefix), for
 * checking that tests left nothing there. Switches this process to the tests' namespace.
 */
export function userStackSettings(): StackSettings {
  if (!userSettings) {
    userSettings = loadStackSettings();
    process.env.CC2D_TEMPORAL_NAMESPACE = process.env.CC2D_TEST_NAMESPACE?.trim() || TEST_NAMESPACE;
    resetStackSettingsCache();
  }
  return userSettings;
}

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

/**
 * Stand-in for a missing stack in a skipped describe block: vitest still runs the block's body
 * to collect its tests, so destructuring `stack!` there would fail the file instead of skipping.
 */
export const SKIPPED = {} as TestStack;

export interface RequireStackOptions {
  s3?: boolean;
  temporal?: boolean;
}

export async function requireStack(name: string, need: RequireStackOptions = { s3: true, temporal: false }): Promise<TestStack | undefined> {
  userStackSettings();
  const base = loadStackSettings();
  const problems: string[] = [];
  const [s3, temporal] = await Promise.all([
    need.s3 !== false ? checkS3(base, 10_000) : Promise.resolve(undefined),
    need.temporal ? checkTemporal(base, 5_000) : Promise.resolve(undefined),
  ]);
  if (s3 && !s3.ok) problems.push(`S3: ${s3.reason}`);
  if (temporal && !temporal.ok) problems.push(`Temporal: ${temporal.reason}`);
  if (problems.length > 0) {
    return missingDependency(name, `dev stack unreachable (${problems.join('; ')})`, 'Start it with `npx cc2d dev up` (it also creates the tests\' namespace).');
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
        const left = await store.list('');
        if (left.length > 0) throw new Error(`[${name}] cleanup left ${left.length} object(s) under ${settings.s3.prefix}, e.g. ${left[0]!.key}`);
      } finally {
        store.destroy();
      }
    },
  };
}
