// The S3 store and publish-by-manifest against the REAL S3 server (SeaweedFS from
// `npx cc2d dev up`). Fails in CI when the server is unreachable; skips locally.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { IntegrityError, InvalidConfigError, InvalidDatasetKeyError } from '../../infra/errors';
import { ManifestConflictError, isPublished, publishWithManifest, readManifest, readManifestFile, type PublishFile } from '../../infra/storage/manifest';
import { NotFoundError, PreconditionFailedError, type ObjectStore } from '../../infra/storage/object-store';
import { StorageError, createS3Store, scrubSecrets } from '../../infra/storage/s3-store';
import { SKIPPED, requireStack } from '../support/stack';

const stack = await requireStack('s3-store');
afterAll(async () => stack?.cleanup());

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Wraps a store and records every call, to prove that nothing was written. */
function spy(store: ObjectStore): { store: ObjectStore; calls: string[] } {
  const calls: string[] = [];
  const wrapped: ObjectStore = {
    put: (k, b, o) => (calls.push(`put ${k}`), store.put(k, b, o)),
    get: (k, h) => (calls.push(`get ${k}`), store.get(k, h)),
    exists: (k) => (calls.push(`exists ${k}`), store.exists(k)),
    list: (p) => (calls.push(`list ${p}`), store.list(p)),
    delete: (ks) => (calls.push(`delete ${ks.join(',')}`), store.delete(ks)),
  };
  return { store: wrapped, calls };
}

describe.skipIf(!stack)('S3 store on the real server', () => {
  const { store, settings } = stack ?? SKIPPED;

  it('puts and gets bytes, returning the local sha256', async () => {
    const body = randomBytes(200_000);
    const put = await store.put('basic/blob.bin', body);
    expect(put).toEqual({ key: 'basic/blob.bin', sha256: sha(body), size: body.length });
    const back = await store.get('basic/blob.bin', put.sha256);
    expect(Buffer.from(back).equals(body)).toBe(true);
    expect(await store.head('basic/blob.bin')).toMatchObject({ size: body.length, sha256: put.sha256 });
    expect(await store.exists('basic/blob.bin')).toBe(true);
    // Zero-byte objects work too.
    const empty = await store.put('basic/empty', new Uint8Array(0));
    expect((await store.get('basic/empty', empty.sha256)).byteLength).toBe(0);
  });

  it('throws IntegrityError naming the key when the expected hash differs', async () => {
    await store.put('integrity/a.bin', utf8('actual content'));
    const wrong = sha(utf8('other content'));
    await expect(store.get('integrity/a.bin', wrong)).rejects.toThrow(IntegrityError);
    await expect(store.get('integrity/a.bin', wrong)).rejects.toThrow(/integrity\/a\.bin/);
  });

  it('throws NotFoundError for a missing key', async () => {
    await expect(store.get('missing/nothing.bin')).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.exists('missing/nothing.bin')).toBe(false);
    expect(await store.head('missing/nothing.bin')).toBeUndefined();
  });

  it('conditional create: the second create fails with PreconditionFailedError and the first content stays', async () => {
    await store.put('cond/marker.json', utf8('first'), { ifNoneMatch: true });
    await expect(store.put('cond/marker.json', utf8('second'), { ifNoneMatch: true })).rejects.toBeInstanceOf(PreconditionFailedError);
    expect(new TextDecoder().decode(await store.get('cond/marker.json'))).toBe('first');
  });

  it('conditional create under concurrency: exactly one of 6 writers wins', async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => store.put('cond/race.json', utf8(`w${i}`), { ifNoneMatch: true })));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(PreconditionFailedError);
  });

  it('lists with pagination and deletes in batches', async () => {
    const small = createS3Store(settings, { listPageSize: 2, deleteBatchSize: 2 });
    try {
      const keys = Array.from({ length: 7 }, (_, i) => `paged/k${i}`);
      for (const k of keys) await small.put(k, utf8(k));
      await small.put('pagedother/x', utf8('x')); // shares the string prefix "paged"
      const listed = await small.list('paged/');
      expect(listed.map((o) => o.key)).toEqual(keys);
      expect(listed.every((o) => o.size === 'paged/k0'.length)).toBe(true);
      expect((await small.list('paged')).map((o) => o.key)).toContain('pagedother/x');
      await small.delete([...keys, 'paged/never-existed']);
      expect(await small.list('paged/')).toEqual([]);
    } finally {
      small.destroy();
    }
  });

  it('rejects traversal keys before any request', async () => {
    for (const bad of ['../escape', '/abs', 'a\\b', '%2e%2e/x', 'nul\u0000x', 'a//b']) {
      await expect(store.put(bad, utf8('x'))).rejects.toBeInstanceOf(InvalidDatasetKeyError);
      await expect(store.get(bad)).rejects.toBeInstanceOf(InvalidDatasetKeyError);
    }
    await expect(store.delete(['ok', '../x'])).rejects.toBeInstanceOf(InvalidDatasetKeyError);
    expect((await store.list('')).some((o) => o.key.includes('escape'))).toBe(false);
  });

  it('errors carry no credentials or signatures', async () => {
    const secret = 'wrong-secret-' + randomBytes(12).toString('hex');
    const bad = createS3Store(settings, { credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: secret }, maxAttempts: 1 });
    let err: unknown;
    try {
      await bad.put('denied.bin', utf8('x'));
    } catch (e) {
      err = e;
    } finally {
      bad.destroy();
    }
    expect(err).toBeInstanceOf(StorageError);
    const e = err as StorageError;
    expect(e.httpStatus).toBe(403);
    expect(e.retryable).toBe(false);
    const text = `${e.message}\n${e.stack}\n${JSON.stringify(e)}`;
    expect(text).not.toContain(secret);
    expect(text).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(text).not.toMatch(/X-Amz-Signature=[0-9a-f]/i);
    expect((e as { cause?: unknown }).cause).toBeUndefined();
  });

  it('scrubs presigned-URL parameters and key ids from any text', () => {
    const url =
      'https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request' +
      '&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=0123456789abcdef0123456789abcdef';
    const out = scrubSecrets(`GET ${url} failed; Authorization: AWS4-HMAC-SHA256 Credential=ASIAXXXXXXXXXXXXXXXX/2026, Signature=deadbeef`, ['topsecretvalue']);
    expect(out).not.toMatch(/AKIA|ASIA|0123456789abcdef|deadbeef/);
    expect(out).toContain('X-Amz-Signature=[redacted]');
    expect(out).toContain('X-Amz-Credential=[redacted]');
    expect(scrubSecrets('leaked topsecretvalue here', ['topsecretvalue'])).toBe('leaked [redacted] here');
  });

  it('reports a missing dev-stack credentials file as a config problem, not a network one', async () => {
    const noCreds = createS3Store({ s3: { ...settings.s3, credentialSource: 'local-dev-file' } }, {
      credentials: async () => {
        throw Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
      },
      maxAttempts: 1,
    });
    try {
      await expect(noCreds.put('x', utf8('x'))).rejects.toThrow(InvalidConfigError);
      await expect(noCreds.put('x', utf8('x'))).rejects.toThrow(/cc2d dev up/);
    } finally {
      noCreds.destroy();
    }
  });
});

describe.skipIf(!stack)('publish-by-manifest on the real server', () => {
  const { store } = stack ?? SKIPPED;
  const files = (tag: string): PublishFile[] => [
    { relKey: 'images/001.bin', bytes: utf8(`img1-${tag}`) },
    { relKey: 'images/002.bin', bytes: randomBytes(70_000) },
    { relKey: 'labels.json', bytes: utf8('{"k":19}'), contentType: 'application/json' },
  ];

  it('uploads all objects, then the manifest last with hashes and sizes', async () => {
    const { store: s, calls } = spy(store);
    const fs = files('a');
    expect(await isPublished(store, 'pub/v1')).toBe(false);
    const res = await publishWithManifest(s, 'pub/v1', fs, { site: 'isbi', count: 3 });
    expect(res.alreadyPublished).toBe(false);
    expect(res.manifestKey).toBe('pub/v1/manifest.json');
    const puts = calls.filter((c) => c.startsWith('put '));
    expect(puts).toHaveLength(4);
    expect(puts.at(-1)).toBe('put pub/v1/manifest.json');
    expect(res.manifest.files).toEqual(
      fs.map((f) => ({ key: f.relKey, sha256: sha(f.bytes), size: f.bytes.byteLength })).sort((a, b) => (a.key < b.key ? -1 : 1)),
    );
    expect(await isPublished(store, 'pub/v1')).toBe(true);
    const m = await readManifest(store, 'pub/v1', { verify: 'hashes' });
    expect(m).toEqual(res.manifest);
    expect(m.meta).toEqual({ site: 'isbi', count: 3 });
    expect(Buffer.from(await readManifestFile(store, 'pub/v1', m, 'labels.json')).toString()).toBe('{"k":19}');
    expect(res.manifestSha256).toBe(sha(await store.get('pub/v1/manifest.json')));
  });

  it('re-publishing identical content succeeds without writing', async () => {
    const fs = files('b');
    const first = await publishWithManifest(store, 'pub/v2', fs, { b: 1, a: [1, 2] });
    const { store: s, calls } = spy(store);
    // Same content, meta keys in another order: canonical JSON makes it identical.
    const again = await publishWithManifest(s, 'pub/v2', [...fs].reverse(), { a: [1, 2], b: 1 });
    expect(again.alreadyPublished).toBe(true);
    expect(again.manifestSha256).toBe(first.manifestSha256);
    expect(calls.filter((c) => c.startsWith('put '))).toEqual([]);
  });

  it('re-publishing different content fails and leaves the published set untouched', async () => {
    const fs = files('c');
    await publishWithManifest(store, 'pub/v3', fs, {});
    const { store: s, calls } = spy(store);
    const changed = [{ ...fs[0]!, bytes: utf8('tampered') }, fs[1]!, fs[2]!];
    await expect(publishWithManifest(s, 'pub/v3', changed, {})).rejects.toBeInstanceOf(ManifestConflictError);
    await expect(publishWithManifest(s, 'pub/v3', fs, { other: true })).rejects.toThrow(/meta differs/);
    expect(calls.filter((c) => c.startsWith('put '))).toEqual([]);
    await readManifest(store, 'pub/v3', { verify: 'hashes' });
  });

  it('rejects bad keys before any write, listing every offender', async () => {
    const { store: s, calls } = spy(store);
    const bad: PublishFile[] = [
      { relKey: 'fine.bin', bytes: utf8('x') },
      { relKey: '../evil', bytes: utf8('x') },
      { relKey: '%2e%2e/evil', bytes: utf8('x') },
      { relKey: '/abs', bytes: utf8('x') },
      { relKey: 'win\\path', bytes: utf8('x') },
      { relKey: 'nul\u0000', bytes: utf8('x') },
    ];
    let err: unknown;
    try {
      await publishWithManifest(s, 'pub/bad', bad, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidDatasetKeyError);
    expect((err as InvalidDatasetKeyError).offenders).toHaveLength(5);
    await expect(publishWithManifest(s, '../pub', [{ relKey: 'a', bytes: utf8('x') }], {})).rejects.toBeInstanceOf(InvalidDatasetKeyError);
    await expect(
      publishWithManifest(s, 'pub/dup', [{ relKey: 'a', bytes: utf8('x') }, { relKey: 'a', bytes: utf8('y') }], {}),
    ).rejects.toBeInstanceOf(InvalidDatasetKeyError);
    await expect(publishWithManifest(s, 'pub/res', [{ relKey: 'manifest.json', bytes: utf8('x') }], {})).rejects.toBeInstanceOf(InvalidDatasetKeyError);
    expect(calls).toEqual([]);
    expect(await store.list('pub/bad')).toEqual([]);
  });

  it('a prefix with objects but no manifest is not published; a retry completes it', async () => {
    const fs = files('d');
    await store.put('pub/torn/images/001.bin', fs[0]!.bytes); // a crash after one upload
    expect(await isPublished(store, 'pub/torn')).toBe(false);
    await expect(readManifest(store, 'pub/torn')).rejects.toBeInstanceOf(NotFoundError);
    const res = await publishWithManifest(store, 'pub/torn', fs, {});
    expect(res.alreadyPublished).toBe(false);
    await readManifest(store, 'pub/torn', { verify: 'hashes' });
  });

  it('detects objects changed after publication', async () => {
    const fs = files('e');
    await publishWithManifest(store, 'pub/tamper', fs, {});
    await store.put('pub/tamper/images/001.bin', utf8('same-size?')); // different size
    await expect(readManifest(store, 'pub/tamper')).rejects.toThrow(/pub\/tamper\/images\/001\.bin has 10 bytes/);
    const sameSize = utf8('X'.repeat(fs[2]!.bytes.byteLength));
    await publishWithManifest(store, 'pub/tamper2', fs, {});
    await store.put('pub/tamper2/labels.json', sameSize); // same size, different bytes
    await readManifest(store, 'pub/tamper2'); // sizes match
    await expect(readManifest(store, 'pub/tamper2', { verify: 'hashes' })).rejects.toThrow(IntegrityError);
    await expect(readManifest(store, 'pub/tamper2', { verify: 'hashes' })).rejects.toThrow(/pub\/tamper2\/labels\.json/);
  });

  it('concurrent publishers of identical content both succeed, one of them as a re-publish', async () => {
    const fs = files('f');
    const [a, b] = await Promise.all([publishWithManifest(store, 'pub/concurrent', fs, {}), publishWithManifest(store, 'pub/concurrent', fs, {})]);
    expect([a.alreadyPublished, b.alreadyPublished].filter(Boolean).length).toBeGreaterThanOrEqual(1);
    expect(a.manifestSha256).toBe(b.manifestSha256);
  });
});
