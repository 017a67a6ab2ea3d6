/**
 * S3 fidelity probe: checks the behaviours the project relies on against the configured S3
 * endpoint (default: the local SeaweedFS of `cc2d dev up`). Run:
 *
 *   npx tsx infra/probe-s3.ts            # table on stdout, exit 1 if an important check fails
 *   npx tsx infra/probe-s3.ts --json     # plus one JSON line at the end
 *
 * Uses the default client settings (requestChecksumCalculation WHEN_SUPPORTED) like the store.
 * Writes only under `<prefix>/.probe/<random>/` in the configured bucket and deletes it after.
 * Results are recorded in docs/s3-fidelity.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type ChecksumAlgorithm,
} from '@aws-sdk/client-s3';
import { loadStackSettings } from './config/stack';
import { createS3Store, scrubSecrets } from './storage/s3-store';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Result {
  check: string;
  important: boolean;
  pass: boolean;
  /** Not a server property (e.g. the client refuses before sending). */
  na?: boolean;
  observed: string;
}

const settings = loadStackSettings();
const s3 = settings.s3;
const client = new S3Client({
  region: s3.region,
  ...(s3.endpoint !== undefined ? { endpoint: s3.endpoint } : {}),
  forcePathStyle: s3.forcePathStyle,
});
const Bucket = s3.bucket;
const base = `${s3.prefix === '' ? '' : `${s3.prefix}/`}.probe/${randomBytes(6).toString('hex')}`;
const written = new Set<string>();
const results: Result[] = [];

function k(name: string): string {
  const key = `${base}/${name}`;
  written.add(key);
  return key;
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function describeErr(err: unknown): string {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number }; message?: string };
  return scrubSecrets(`${e.name ?? 'Error'} (HTTP ${e.$metadata?.httpStatusCode ?? '?'}): ${String(e.message ?? err).split('\n')[0]}`);
}

async function check(name: string, important: boolean, fn: () => Promise<{ pass: boolean; na?: boolean; observed: string }>): Promise<void> {
  try {
    const r = await fn();
    results.push({ check: name, important, ...r });
  } catch (err) {
    results.push({ check: name, important, pass: false, observed: `unexpected error: ${describeErr(err)}` });
  }
}

async function getBytes(Key: string, checksumMode = false): Promise<{ bytes: Uint8Array; crc32?: string; crc64?: string; sha256?: string }> {
  const res = await client.send(new GetObjectCommand({ Bucket, Key, ...(checksumMode ? { ChecksumMode: 'ENABLED' as const } : {}) }));
  const bytes = await res.Body!.transformToByteArray();
  return {
    bytes,
    ...(res.ChecksumCRC32 ? { crc32: res.ChecksumCRC32 } : {}),
    ...(res.ChecksumCRC64NVME ? { crc64: res.ChecksumCRC64NVME } : {}),
    ...(res.ChecksumSHA256 ? { sha256: res.ChecksumSHA256 } : {}),
  };
}

/** Expects the call to be rejected with one of `statuses`. */
async function expectReject(fn: () => Promise<unknown>, statuses: number[]): Promise<{ pass: boolean; observed: string }> {
  try {
    await fn();
    return { pass: false, observed: 'accepted (not enforced)' };
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? -1;
    return { pass: statuses.includes(status), observed: `rejected: ${describeErr(err)}` };
  }
}

async function main(): Promise<void> {
  const wantJson = process.argv.includes('--json');
  await createS3Store(settings).ensureBucket();

  await check('multipart upload (raw Create/UploadPart x2/Complete, 5 MiB + 1 MiB), default client', true, async () => {
    const Key = k('multipart.bin');
    const p1 = randomBytes(5 * 1024 * 1024);
    const p2 = randomBytes(1024 * 1024 + 7);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const parts = [];
    for (const [i, body] of [p1, p2].entries()) {
      const r = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: body }));
      parts.push({ PartNumber: i + 1, ETag: r.ETag, ...(r.ChecksumCRC32 ? { ChecksumCRC32: r.ChecksumCRC32 } : {}) });
    }
    await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
    const { bytes } = await getBytes(Key);
    const ok = bytes.byteLength === p1.length + p2.length && sha(bytes) === sha(Buffer.concat([p1, p2]));
    return { pass: ok, observed: `${bytes.byteLength} bytes read back, sha256 ${ok ? 'matches' : 'DIFFERS'}` };
  });

  await check('multipart upload with ChecksumAlgorithm CRC32 (per-part checksums)', false, async () => {
    const Key = k('multipart-crc32.bin');
    const p1 = randomBytes(5 * 1024 * 1024);
    const p2 = randomBytes(1000);
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32' }));
    const parts = [];
    for (const [i, body] of [p1, p2].entries()) {
      const r = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: body, ChecksumAlgorithm: 'CRC32' }));
      parts.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
    }
    const done = await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
    const { bytes } = await getBytes(Key, true);
    const ok = sha(bytes) === sha(Buffer.concat([p1, p2]));
    return { pass: ok, observed: `intact=${ok}; part CRC32 returned=${parts.every((p) => !!p.ChecksumCRC32)}; object checksum ${done.ChecksumCRC32 ?? 'none'}` };
  });

  await check('streaming PutObject (Readable body + ContentLength, default client => aws-chunked + trailer) stored intact', true, async () => {
    const Key = k('stream-len.bin');
    const data = randomBytes(100_000);
    const body = Readable.from([data.subarray(0, 40_000), data.subarray(40_000)]);
    await client.send(new PutObjectCommand({ Bucket, Key, Body: body, ContentLength: data.length }));
    const { bytes } = await getBytes(Key);
    const ok = bytes.byteLength === data.length && sha(bytes) === sha(data);
    return { pass: ok, observed: `stored ${bytes.byteLength} bytes for a ${data.length}-byte body${ok ? ', identical' : ', CORRUPTED (chunk framing stored?)'}` };
  });

  await check('streaming PutObject without ContentLength stored intact', false, async () => {
    const Key = k('stream-nolen.bin');
    const data = randomBytes(70_000);
    const body = Readable.from([data.subarray(0, 30_000), data.subarray(30_000)]);
    try {
      await client.send(new PutObjectCommand({ Bucket, Key, Body: body }));
    } catch (err) {
      if (err instanceof TypeError && /x-amz-decoded-content-length/.test(err.message)) {
        return { pass: false, na: true, observed: `client-side: the SDK refuses before sending (${err.message}); the store always sends byte arrays of known length` };
      }
      throw err;
    }
    const { bytes } = await getBytes(Key);
    const ok = bytes.byteLength === data.length && sha(bytes) === sha(data);
    return { pass: ok, observed: `stored ${bytes.byteLength} bytes for ${data.length}${ok ? ', identical' : ', CORRUPTED'}` };
  });

  for (const algo of ['CRC32', 'CRC64NVME', 'SHA256'] as ChecksumAlgorithm[]) {
    await check(`${algo}: PutObject with ChecksumAlgorithm ${algo}, GetObject ChecksumMode ENABLED returns the same checksum`, algo !== 'CRC64NVME', async () => {
      const Key = k(`sum-${algo}.bin`);
      const data = randomBytes(50_000);
      const put = await client.send(new PutObjectCommand({ Bucket, Key, Body: data, ChecksumAlgorithm: algo }));
      const sent = algo === 'CRC32' ? put.ChecksumCRC32 : algo === 'CRC64NVME' ? put.ChecksumCRC64NVME : put.ChecksumSHA256;
      const got = await getBytes(Key, true);
      const back = algo === 'CRC32' ? got.crc32 : algo === 'CRC64NVME' ? got.crc64 : got.sha256;
      const intact = sha(got.bytes) === sha(data);
      return {
        pass: intact && sent !== undefined && back === sent,
        observed: `put echoed ${sent ?? 'nothing'}; get returned ${back ?? 'nothing'}; body intact=${intact}`,
      };
    });
  }

  await check('wrong x-amz-checksum-crc32 rejected', true, async () =>
    expectReject(() => client.send(new PutObjectCommand({ Bucket, Key: k('bad-crc32.bin'), Body: randomBytes(1000), ChecksumCRC32: 'AAAAAA==' })), [400]),
  );
  await check('wrong x-amz-checksum-crc64nvme rejected', false, async () =>
    expectReject(
      () => client.send(new PutObjectCommand({ Bucket, Key: k('bad-crc64.bin'), Body: randomBytes(1000), ChecksumCRC64NVME: 'AAAAAAAAAAA=' })),
      [400],
    ),
  );
  await check('wrong x-amz-checksum-sha256 rejected (the store sends its local sha256 this way)', true, async () =>
    expectReject(
      () =>
        client.send(
          new PutObjectCommand({ Bucket, Key: k('bad-sha.bin'), Body: randomBytes(1000), ChecksumSHA256: createHash('sha256').update('other').digest('base64') }),
        ),
      [400],
    ),
  );
  await check('bad Content-MD5 rejected', true, async () =>
    expectReject(
      () => client.send(new PutObjectCommand({ Bucket, Key: k('bad-md5.bin'), Body: randomBytes(1000), ContentMD5: createHash('md5').update('x').digest('base64') })),
      [400],
    ),
  );

  await check("PutObject IfNoneMatch '*' on an absent key succeeds, on an existing key fails with 412", true, async () => {
    const Key = k('cond.bin');
    await client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('first'), IfNoneMatch: '*' }));
    const r = await expectReject(() => client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('second'), IfNoneMatch: '*' })), [412]);
    const { bytes } = await getBytes(Key);
    const kept = Buffer.from(bytes).toString() === 'first';
    return { pass: r.pass && kept, observed: `${r.observed}; original kept=${kept}` };
  });

  await check("8 concurrent PutObject IfNoneMatch '*' on one key: exactly one wins", true, async () => {
    const Key = k('race.bin');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from(`writer-${i}`), IfNoneMatch: '*' }))),
    );
    const wins = outcomes.filter((o) => o.status === 'fulfilled').length;
    const codes = outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode] : []));
    return { pass: wins === 1, observed: `${wins} succeeded; rejections HTTP ${[...new Set(codes)].join('/') || 'none'}` };
  });

  await check('PutObject with a wrong IfMatch fails with 412; with the right ETag succeeds', true, async () => {
    const Key = k('ifmatch.bin');
    const put = await client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('v1') }));
    const r = await expectReject(() => client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('v2'), IfMatch: '"00000000000000000000000000000000"' })), [412]);
    let rightOk = false;
    try {
      await client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('v3'), IfMatch: put.ETag }));
      rightOk = Buffer.from((await getBytes(Key)).bytes).toString() === 'v3';
    } catch {
      rightOk = false;
    }
    return { pass: r.pass && rightOk, observed: `wrong ETag: ${r.observed}; right ETag accepted=${rightOk}` };
  });

  await check('GetObject If-None-Match <etag> answers 304', false, async () => {
    const Key = k('etag.bin');
    const put = await client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('x') }));
    return expectReject(() => client.send(new GetObjectCommand({ Bucket, Key, IfNoneMatch: put.ETag })), [304]);
  });

  await check('user metadata (x-amz-meta-sha256) round-trips through HeadObject', true, async () => {
    const Key = k('meta.bin');
    await client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('m'), Metadata: { sha256: 'abc123' } }));
    const h = await client.send(new HeadObjectCommand({ Bucket, Key }));
    return { pass: h.Metadata?.sha256 === 'abc123', observed: `metadata ${JSON.stringify(h.Metadata ?? {})}` };
  });

  await check('ListObjectsV2 pagination (MaxKeys 2 over 5 keys)', true, async () => {
    for (let i = 0; i < 5; i++) await client.send(new PutObjectCommand({ Bucket, Key: k(`list/${i}`), Body: Buffer.from(String(i)) }));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await client.send(new ListObjectsV2Command({ Bucket, Prefix: `${base}/list/`, MaxKeys: 2, ...(token ? { ContinuationToken: token } : {}) }));
      pages++;
      seen.push(...(r.Contents ?? []).map((c) => c.Key!));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token && pages < 10);
    return { pass: seen.length === 5 && new Set(seen).size === 5 && pages === 3, observed: `${seen.length} keys in ${pages} pages` };
  });

  await check('DeleteObjects (batch of 3) removes all', true, async () => {
    const keys = [k('del/a'), k('del/b'), k('del/c')];
    for (const Key of keys) await client.send(new PutObjectCommand({ Bucket, Key, Body: Buffer.from('d') }));
    const r = await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    const left = await client.send(new ListObjectsV2Command({ Bucket, Prefix: `${base}/del/` }));
    const n = left.KeyCount ?? left.Contents?.length ?? 0;
    return { pass: (r.Errors ?? []).length === 0 && n === 0, observed: `errors ${(r.Errors ?? []).length}, ${n} left` };
  });

  await check('right access key id with a wrong secret rejected (403)', true, async () => {
    const good = await client.config.credentials();
    const bad = new S3Client({
      region: s3.region,
      ...(s3.endpoint !== undefined ? { endpoint: s3.endpoint } : {}),
      forcePathStyle: true,
      credentials: { accessKeyId: good.accessKeyId, secretAccessKey: 'wrong-secret-wrong-secret-wrong-secret' },
    });
    const r = await expectReject(() => bad.send(new GetObjectCommand({ Bucket, Key: k('meta.bin') })), [403]);
    bad.destroy();
    return r;
  });

  await check('unknown access key id rejected (403)', true, async () => {
    const bad = new S3Client({
      region: s3.region,
      ...(s3.endpoint !== undefined ? { endpoint: s3.endpoint } : {}),
      forcePathStyle: true,
      credentials: { accessKeyId: 'CC2DPROBEWRONGKEY000', secretAccessKey: 'wrong-secret-wrong-secret-wrong-secret' },
    });
    const r = await expectReject(() => bad.send(new GetObjectCommand({ Bucket, Key: k('meta.bin') })), [403]);
    bad.destroy();
    return r;
  });

  await check('anonymous GET rejected (403)', true, async () => {
    if (s3.endpoint === undefined) return { pass: true, observed: 'skipped (AWS endpoint)' };
    const url = `${s3.endpoint}/${Bucket}/${k('meta.bin')}`;
    const res = await fetch(url);
    return { pass: res.status === 403, observed: `HTTP ${res.status}` };
  });

  // clean up
  const keys = [...written];
  for (let i = 0; i < keys.length; i += 1000) {
    await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } })).catch(() => undefined);
  }

  const endpoint = s3.endpoint ?? `aws (${s3.region})`;
  console.log(`S3 fidelity probe against ${endpoint}, bucket ${Bucket}\n`);
  console.log('| Check | Important | Result | Observed |');
  console.log('|---|---|---|---|');
  for (const r of results) {
    const verdict = r.na ? 'N/A' : r.pass ? 'PASS' : 'FAIL';
    console.log(`| ${r.check} | ${r.important ? 'yes' : 'no'} | ${verdict} | ${r.observed.replace(/\|/g, '/')} |`);
  }
  const failedImportant = results.filter((r) => r.important && !r.pass && !r.na);
  const applicable = results.filter((r) => !r.na);
  console.log(`\n${applicable.filter((r) => r.pass).length}/${applicable.length} applicable checks passed; important failures: ${failedImportant.length}`);
  if (wantJson) console.log(JSON.stringify({ endpoint, results }));
  client.destroy();
  process.exitCode = failedImportant.length > 0 ? 1 : 0;
}

await main();
