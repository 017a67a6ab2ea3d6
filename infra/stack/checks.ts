/**
 * Reachability checks shared by `cc2d doctor` and the test helpers (test/support/stack.ts).
 * Each check resolves (never rejects) within its timeout; failures carry a one-line reason
 * that is safe to print (scrubbed of credentials and signatures).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, type StackSettings } from '../config/stack';
import { InvalidConfigError } from '../errors';
import { createS3Store, scrubSecrets, type S3StoreOptions } from '../storage/s3-store';

export type CheckResult = { ok: true; detail: string } | { ok: false; reason: string };

function oneLine(err: unknown): string {
  return scrubSecrets(String((err as Error)?.message ?? err).split('\n')[0] ?? '').slice(0, 300);
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000}s`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Temporal frontend reachable and the namespace exists. */
export async function checkTemporal(settings: StackSettings, timeoutMs = 10_000): Promise<CheckResult> {
  const { address, namespace } = settings.temporal;
  try {
    // Loaded on demand: an S3-only check does not load the Temporal SDK.
    const { connectClient } = await import('../temporal/connect');
    const { connection } = await withTimeout(connectClient(settings, timeoutMs), timeoutMs + 1000, `Temporal at ${address}`);
    try {
      await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.describeNamespace({ namespace }));
      return { ok: true, detail: `${address} namespace ${namespace}` };
    } catch (err) {
      const msg = oneLine(err);
      if (/not found/i.test(msg)) return { ok: false, reason: `namespace ${namespace} not found on ${address} (\`npx cc2d dev up\` creates it locally)` };
      return { ok: false, reason: `${address}: ${msg}` };
    } finally {
      await connection.close().catch(() => undefined);
    }
  } catch (err) {
    // A bad setting (e.g. the payload key) stops every client before it connects: say so, not "unreachable".
    if (err instanceof InvalidConfigError) return { ok: false, reason: oneLine(err) };
    return { ok: false, reason: `unreachable at ${address}: ${oneLine(err)}` };
  }
}

/** S3 reachable and writable: put, get (sha256-verified) and delete a probe object. */
export async function checkS3(settings: Pick<StackSettings, 's3'>, timeoutMs = 15_000, storeOptions: S3StoreOptions = {}): Promise<CheckResult> {
  const where = `${settings.s3.endpoint ?? 'aws'} bucket ${settings.s3.bucket}`;
  const store = createS3Store(settings, { maxAttempts: 1, requestTimeoutMs: timeoutMs, idleTimeoutMs: timeoutMs, connectionTimeoutMs: Math.min(timeoutMs, 3000), ...storeOptions });
  const key = `.doctor/${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await withTimeout(
      (async () => {
        const body = randomBytes(64);
        const put = await store.put(key, body);
        await store.get(key, put.sha256);
        await store.delete([key]);
      })(),
      timeoutMs,
      `S3 at ${where}`,
    );
    return { ok: true, detail: `${where}${settings.s3.prefix ? ` prefix ${settings.s3.prefix}` : ''} (put/get/delete ok)` };
  } catch (err) {
    return { ok: false, reason: `${where}: ${oneLine(err)}` };
  } finally {
    store.destroy();
  }
}

/** The ISBI 2015 dataset directory: ISBI_DIR, else ../shared/datasets/isbi2015_ceph beside the project. */
export function isbiDir(env: Record<string, string | undefined> = process.env): string {
  const v = env.ISBI_DIR?.trim();
  return path.resolve(PROJECT_ROOT, v ? v : '../shared/datasets/isbi2015_ceph');
}

/** RawImage/ and AnnotationsByMD/ present and readable. */
export async function checkDataset(dir: string): Promise<CheckResult> {
  const problems: string[] = [];
  const counts: string[] = [];
  for (const sub of ['RawImage', 'AnnotationsByMD']) {
    const p = path.join(dir, sub);
    try {
      await fs.access(p, fsc.R_OK | fsc.X_OK);
      const entries = await fs.readdir(p);
      if (entries.length === 0) problems.push(`${sub}/ is empty`);
      else counts.push(`${sub}/ (${entries.length} entries)`);
    } catch (err) {
      problems.push(`${sub}/ ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `not readable (${(err as NodeJS.ErrnoException).code})`}`);
    }
  }
  if (problems.length > 0) return { ok: false, reason: `${dir}: ${problems.join(', ')} (set ISBI_DIR)` };
  return { ok: true, detail: `${dir}: ${counts.join(', ')}` };
}
