/**
 * ObjectStore on S3 (@aws-sdk/client-s3). Works against AWS S3 and the local SeaweedFS.
 *
 * - Path-style addressing (configurable), the SDK's default checksum behaviour
 *   (`WHEN_SUPPORTED`: CRC32 on every upload and validation on download) is kept.
 * - Every put computes SHA-256 locally, sends it as `x-amz-checksum-sha256` so the SERVER
 *   rejects a body that changed in transit, and records it as `x-amz-meta-sha256`.
 *   `get(key, expectSha256)` re-hashes what it received and throws IntegrityError naming the key.
 * - Conditional create (`ifNoneMatch`) uses `If-None-Match: *` and compare-and-swap (`ifMatch`)
 *   `If-Match: <etag>`; SeaweedFS 4.48 enforces both (docs/s3-fidelity.md), so no HEAD-then-PUT
 *   emulation is needed.
 * - Errors are re-thrown as StorageError / NotFoundError / PreconditionFailedError built from
 *   scrubbed text only: no credentials, signatures or presigned query strings, and no `cause`
 *   that would carry the SDK's request/response objects into logs or workflow failures.
 * - Credentials come only from the SDK's default chain (env vars, shared credentials file,
 *   SSO, instance role) unless a provider is injected explicitly (tests, `cc2d dev up`).
 */
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { StackSettings } from '../config/stack';
import { IntegrityError, InvalidConfigError } from '../errors';
import { sha256Hex } from './hash';
import { assertValidKeys } from './keys';
import {
  NotFoundError, PreconditionFailedError, type ObjectInfo, type PutOptions, type PutResult, type VersionedObject, type VersionedObjectStore,
} from './object-store';

/** A storage failure other than not-found / precondition. Retryable unless `retryable` is false. */
export class StorageError extends Error {
  constructor(
    message: string,
    readonly op: string,
    readonly key: string | undefined,
    readonly code: string | undefined,
    readonly httpStatus: number | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

const SECRET_PARAM = /((?:X-Amz-(?:Signature|Credential|Security-Token))|AWSAccessKeyId|Signature|SignatureProvided|Credential)(=|:\s*|%3D)([^&\s"'<>,;]+)/gi;
const ACCESS_KEY_ID = /\b(AKIA|ASIA)[0-9A-Z]{16}\b/g;

/**
 * Removes signatures, credential scopes, session tokens and AWS key ids from `text`, plus any
 * literal secret values given (e.g. the env credentials, so a server echoing them is caught).
 */
export function scrubSecrets(text: string, literals: readonly (string | undefined)[] = envSecretLiterals()): string {
  let out = text.replace(SECRET_PARAM, (_m, name: string, sep: string) => `${name}${sep}[redacted]`).replace(ACCESS_KEY_ID, '[redacted-key-id]');
  for (const lit of literals) {
    if (lit && lit.length >= 8) out = out.split(lit).join('[redacted]');
  }
  return out;
}

function envSecretLiterals(): (string | undefined)[] {
  return [process.env.AWS_SECRET_ACCESS_KEY, process.env.AWS_SESSION_TOKEN, process.env.AWS_ACCESS_KEY_ID];
}

interface SdkErrorLike {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

function statusOf(err: unknown): number | undefined {
  return (err as SdkErrorLike)?.$metadata?.httpStatusCode;
}

function codeOf(err: unknown): string | undefined {
  const e = err as SdkErrorLike;
  return e?.Code ?? e?.name;
}

export interface S3StoreOptions {
  /** Explicit credentials; default: the SDK's standard chain (never logged, never stored in settings). */
  credentials?: S3ClientConfig['credentials'];
  /**
   * Whole request + response limit (default 10 min, sized for large checkpoints). NOTE: the
   * SDK only *warns* on this timeout unless `throwOnRequestTimeout` is set, which this store does.
   */
  requestTimeoutMs?: number;
  /** A socket with no traffic for this long is closed and the call fails (default 30 s): a frozen server fails instead of hanging. */
  idleTimeoutMs?: number;
  /** TCP connect limit (default 5 s). */
  connectionTimeoutMs?: number;
  /** SDK attempts per call (default 3). Fault tests lower it to see outages quickly. */
  maxAttempts?: number;
  /** ListObjectsV2 page size (default: the server's, 1000). Tests use small pages. */
  listPageSize?: number;
  /** Keys per DeleteObjects request (default and maximum 1000). */
  deleteBatchSize?: number;
}

export interface HeadResult {
  key: string;
  size: number;
  /** The sha256 recorded at put time (x-amz-meta-sha256), when the object was written by this store. */
  sha256?: string;
  etag?: string;
}

export interface S3ObjectStore extends VersionedObjectStore {
  readonly bucket: string;
  /** Key prefix inside the bucket ('' for none); every key of this store lives under it. */
  readonly prefix: string;
  head(key: string): Promise<HeadResult | undefined>;
  /** Creates the bucket when missing (dev stack, tests). */
  ensureBucket(): Promise<void>;
  /** Closes sockets. */
  destroy(): void;
}

/** Creates the S3-backed store for `settings.s3`. */
export function createS3Store(settings: Pick<StackSettings, 's3'>, options: S3StoreOptions = {}): S3ObjectStore {
  const s3 = settings.s3;
  // @aws-sdk is pinned (package.json); its Node >= 22 notice concerns releases after Jan 2027.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({
    region: s3.region,
    ...(s3.endpoint !== undefined ? { endpoint: s3.endpoint } : {}),
    forcePathStyle: s3.forcePathStyle,
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    requestHandler: {
      requestTimeout: options.requestTimeoutMs ?? 600_000,
      throwOnRequestTimeout: true,
      socketTimeout: options.idleTimeoutMs ?? 30_000,
      connectionTimeout: options.connectionTimeoutMs ?? 5_000,
    },
  });
  const bucket = s3.bucket;
  const root = s3.prefix;
  const full = (key: string): string => (root === '' ? key : `${root}/${key}`);
  const rel = (fullKey: string): string => (root === '' ? fullKey : fullKey.slice(root.length + 1));

  function fail(op: string, key: string | undefined, err: unknown): never {
    if (err instanceof StorageError || err instanceof IntegrityError) throw err;
    const name = (err as SdkErrorLike)?.name ?? 'Error';
    const status = statusOf(err);
    const where = key === undefined ? `s3://${bucket}/${root}` : `s3://${bucket}/${full(key)}`;
    if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(String((err as Error)?.message))) {
      const hint =
        s3.credentialSource === 'local-dev-file'
          ? 'the local dev stack has not written its credentials yet: run `npx cc2d dev up`'
          : 'set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or configure an AWS profile';
      throw new InvalidConfigError(`S3 ${op} ${where}: no S3 credentials found (${hint})`);
    }
    const raw = `${name}: ${String((err as Error)?.message ?? err)}`;
    const message = `S3 ${op} ${where} failed${status !== undefined ? ` (HTTP ${status})` : ''}: ${scrubSecrets(raw)}`;
    const nonRetryable = status === 400 || status === 403 || status === 405 || name === 'InvalidDatasetKey';
    throw new StorageError(message, op, key, codeOf(err), status, !nonRetryable);
  }

  function isNotFound(err: unknown): boolean {
    const c = codeOf(err);
    return c === 'NoSuchKey' || c === 'NotFound' || statusOf(err) === 404;
  }

  const store: S3ObjectStore = {
    bucket,
    prefix: root,

    async put(key: string, body: Uint8Array, opts: PutOptions = {}): Promise<PutResult> {
      assertValidKeys([key]);
      const digest = createHash('sha256').update(body).digest();
      const sha256 = digest.toString('hex');
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: full(key),
            Body: body,
            ContentLength: body.byteLength,
            ContentType: opts.contentType ?? 'application/octet-stream',
            ChecksumSHA256: digest.toString('base64'),
            Metadata: { sha256 },
            ...(opts.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
            ...(opts.ifMatch !== undefined ? { IfMatch: opts.ifMatch } : {}),
          }),
        );
      } catch (err) {
        const conditional = opts.ifNoneMatch || opts.ifMatch !== undefined;
        // If-Match on a key deleted meanwhile is a 404 on some servers: the swap lost all the same.
        if (conditional && (codeOf(err) === 'PreconditionFailed' || statusOf(err) === 412 || (opts.ifMatch !== undefined && isNotFound(err)))) {
          throw new PreconditionFailedError(key);
        }
        fail('put', key, err);
      }
      return { key, sha256, size: body.byteLength };
    },

    async get(key: string, expectSha256?: string): Promise<Uint8Array> {
      assertValidKeys([key]);
      let bytes: Uint8Array;
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }));
        if (!res.Body) throw new StorageError(`S3 get s3://${bucket}/${full(key)}: empty response body`, 'get', key, undefined, undefined, true);
        bytes = await res.Body.transformToByteArray();
      } catch (err) {
        if (isNotFound(err)) throw new NotFoundError(key);
        // The SDK's own CRC validation of the response body.
        if (/checksum mismatch/i.test(String((err as Error)?.message))) {
          throw new IntegrityError(`checksum mismatch reading ${key}: ${scrubSecrets(String((err as Error).message))}`);
        }
        fail('get', key, err);
      }
      if (expectSha256 !== undefined) {
        const got = sha256Hex(bytes);
        if (got !== expectSha256.toLowerCase()) {
          throw new IntegrityError(`sha256 mismatch for ${key}: expected ${expectSha256}, got ${got} (${bytes.byteLength} bytes)`);
        }
      }
      return bytes;
    },

    async getVersioned(key: string): Promise<VersionedObject | undefined> {
      assertValidKeys([key]);
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }));
        if (!res.Body || res.ETag === undefined) {
          throw new StorageError(`S3 get s3://${bucket}/${full(key)}: response without body or ETag`, 'get', key, undefined, undefined, true);
        }
        return { body: await res.Body.transformToByteArray(), etag: res.ETag };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        fail('get', key, err);
      }
    },

    async head(key: string): Promise<HeadResult | undefined> {
      assertValidKeys([key]);
      try {
        const res = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: full(key) }));
        const sha = res.Metadata?.sha256;
        return {
          key,
          size: res.ContentLength ?? 0,
          ...(sha !== undefined ? { sha256: sha } : {}),
          ...(res.ETag !== undefined ? { etag: res.ETag } : {}),
        };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        fail('head', key, err);
      }
    },

    async exists(key: string): Promise<boolean> {
      return (await store.head(key)) !== undefined;
    },

    async list(prefix: string): Promise<ObjectInfo[]> {
      // A list prefix may end inside a segment ('runs/ab') or with '/'.
      const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
      if (trimmed !== '') assertValidKeys([trimmed]);
      const fullPrefix = root === '' ? prefix : prefix === '' ? `${root}/` : `${root}/${prefix}`;
      const out: ObjectInfo[] = [];
      let token: string | undefined;
      try {
        do {
          const res = await client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: fullPrefix,
              ...(options.listPageSize !== undefined ? { MaxKeys: options.listPageSize } : {}),
              ...(token !== undefined ? { ContinuationToken: token } : {}),
            }),
          );
          for (const o of res.Contents ?? []) {
            if (o.Key !== undefined) out.push({ key: rel(o.Key), size: o.Size ?? 0 });
          }
          token = res.IsTruncated ? res.NextContinuationToken : undefined;
        } while (token !== undefined);
      } catch (err) {
        fail('list', prefix, err);
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },

    async delete(keys: string[]): Promise<void> {
      assertValidKeys(keys);
      const unique = [...new Set(keys)];
      const size = Math.min(1000, Math.max(1, options.deleteBatchSize ?? 1000));
      for (let i = 0; i < unique.length; i += size) {
        const batch = unique.slice(i, i + size);
        try {
          const res = await client.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((k) => ({ Key: full(k) })), Quiet: true } }),
          );
          const errors = res.Errors ?? [];
          if (errors.length > 0) {
            const detail = errors.slice(0, 10).map((e) => `${e.Key ? rel(e.Key) : '?'}: ${e.Code ?? '?'}`).join(', ');
            throw new StorageError(
              `S3 delete in s3://${bucket}/${root}: ${errors.length} object(s) not deleted (${scrubSecrets(detail)})`,
              'delete',
              undefined,
              errors[0]?.Code,
              undefined,
              true,
            );
          }
        } catch (err) {
          fail('delete', undefined, err);
        }
      }
    },

    async ensureBucket(): Promise<void> {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
        return;
      } catch (err) {
        if (!isNotFound(err)) fail('head-bucket', undefined, err);
      }
      try {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
      } catch (err) {
        const c = codeOf(err);
        if (c !== 'BucketAlreadyOwnedByYou' && c !== 'BucketAlreadyExists') fail('create-bucket', undefined, err);
      }
    },

    destroy(): void {
      client.destroy();
    },
  };
  return store;
}
