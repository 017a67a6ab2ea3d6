/**
 * Stack settings: where Temporal and S3 are, parsed once from the environment.
 *
 * | Variable                   | Default                          | Rule |
 * |----------------------------|----------------------------------|------|
 * | CC2D_TEMPORAL_ADDRESS      | 127.0.0.1:7233                   | host:port |
 * | CC2D_TEMPORAL_NAMESPACE    | cc2d                             | 1-255 chars of [A-Za-z0-9._-] |
 * | CC2D_TEMPORAL_TLS          | false                            | true/false; true when a client cert is given |
 * | CC2D_TEMPORAL_TLS_CERT/KEY | (none)                           | paths to a PEM client certificate and key (mTLS), both or neither |
 * | CC2D_S3_ENDPOINT           | http://127.0.0.1:8333 (local)    | http(s) URL without path, or `aws` for the SDK's AWS endpoint |
 * | CC2D_S3_REGION             | $AWS_REGION or us-east-1         | e.g. eu-west-1 |
 * | CC2D_S3_BUCKET             | cc2d                             | S3 bucket naming rules |
 * | CC2D_S3_PREFIX             | (empty)                          | `a/b` style, segments of [A-Za-z0-9._-], no `.`/`..` |
 * | CC2D_S3_FORCE_PATH_STYLE   | true                             | true/false |
 * | CC2D_DATA_DIR              | <project>/.data                  | local stack state (logs, pids, SQLite, SeaweedFS) |
 *
 * Credentials are NEVER part of these settings: they come from AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY or the standard AWS chain (shared credentials file, SSO, instance role).
 * For the local dev stack, when no credentials are in the environment and the endpoint is the
 * local default, the loader points the standard chain at `<dataDir>/aws-credentials` (written
 * by `cc2d dev up`) by setting AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE=cc2d-local.
 * The settings object only records *where* credentials come from, so it is safe to log and
 * safe to put in a workflow payload.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InvalidConfigError } from '../errors';
import { DEFAULT_NAMESPACE } from './names';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_S3_ENDPOINT = 'http://127.0.0.1:8333';
export const DEFAULT_S3_BUCKET = 'cc2d';
/** Profile name of the local dev stack in `<dataDir>/aws-credentials`. */
export const LOCAL_AWS_PROFILE = 'cc2d-local';
export const LOCAL_CREDENTIALS_FILE_NAME = 'aws-credentials';

export type CredentialSource =
  /** AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY in the environment. */
  | 'env'
  /** The dev stack's generated file, via AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE. */
  | 'local-dev-file'
  /** Whatever the standard AWS chain finds (AWS_PROFILE, ~/.aws/credentials, SSO, IMDS, ...). */
  | 'aws-default-chain';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/, 'must be host:port, e.g. 127.0.0.1:7233')
  .refine((v) => {
    const port = Number(v.slice(v.lastIndexOf(':') + 1));
    return port >= 1 && port <= 65535;
  }, 'port must be 1-65535');

export const StackSettingsSchema = z
  .object({
    projectRoot: z.string().min(1),
    dataDir: z.string().min(1),
    temporal: z
      .object({
        address: hostPort,
        namespace: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, 'must be 1-255 characters of A-Z a-z 0-9 . _ - starting with a letter or digit'),
        tls: z.boolean(),
        clientCertPath: z.string().min(1).optional(),
        clientKeyPath: z.string().min(1).optional(),
        /** True when the address is on this machine (the dev stack manages it). */
        local: z.boolean(),
      })
      .strict(),
    s3: z
      .object({
        /** Undefined means the SDK's own AWS endpoint for the region. */
        endpoint: z.string().url().optional(),
        region: z.string().regex(/^[a-z0-9-]{2,32}$/, 'must look like an AWS region, e.g. us-east-1'),
        bucket: z
          .string()
          .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be 3-63 characters of a-z 0-9 . - starting and ending with a letter or digit')
          .refine((b) => !b.includes('..') && !/^\d+\.\d+\.\d+\.\d+$/.test(b), 'must not contain ".." or look like an IP address'),
        /** Key prefix inside the bucket, without leading or trailing slash; '' for none. */
        prefix: z
          .string()
          .max(512)
          .refine(
            (p) => p === '' || p.split('/').every((s) => /^[A-Za-z0-9._-]+$/.test(s) && s !== '.' && s !== '..'),
            'must be empty or slash-separated segments of A-Z a-z 0-9 . _ - (no empty, "." or ".." segments, no leading or trailing slash)',
          ),
        forcePathStyle: z.boolean(),
        /** True when the endpoint is the local dev stack's SeaweedFS. */
        local: z.boolean(),
        credentialSource: z.enum(['env', 'local-dev-file', 'aws-default-chain']),
      })
      .strict(),
  })
  .strict();

export type StackSettings = z.infer<typeof StackSettingsSchema>;

type Env = Record<string, string | undefined>;

/** Which settings field each env var feeds, so zod errors can name the variable. */
const ENV_OF_PATH: Record<string, string> = {
  dataDir: 'CC2D_DATA_DIR',
  'temporal.address': 'CC2D_TEMPORAL_ADDRESS',
  'temporal.namespace': 'CC2D_TEMPORAL_NAMESPACE',
  'temporal.clientCertPath': 'CC2D_TEMPORAL_TLS_CERT',
  'temporal.clientKeyPath': 'CC2D_TEMPORAL_TLS_KEY',
  's3.endpoint': 'CC2D_S3_ENDPOINT',
  's3.region': 'CC2D_S3_REGION',
  's3.bucket': 'CC2D_S3_BUCKET',
  's3.prefix': 'CC2D_S3_PREFIX',
};

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t === undefined || t === '' ? undefined : t;
}

function parseBool(env: Env, name: string, fallback: boolean): boolean {
  const v = nonEmpty(env[name])?.toLowerCase();
  if (v === undefined) return fallback;
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new InvalidConfigError(`${name}: must be true or false, got "${env[name]}"`);
}

function parseEndpoint(raw: string | undefined): string | undefined {
  const v = nonEmpty(raw) ?? DEFAULT_S3_ENDPOINT;
  if (v.toLowerCase() === 'aws') return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new InvalidConfigError(`CC2D_S3_ENDPOINT: must be an http(s) URL such as ${DEFAULT_S3_ENDPOINT}, or "aws"; got "${v}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidConfigError(`CC2D_S3_ENDPOINT: must use http or https, got "${url.protocol}"`);
  }
  if (url.username || url.password) {
    throw new InvalidConfigError('CC2D_S3_ENDPOINT: must not contain credentials; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY');
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw new InvalidConfigError(`CC2D_S3_ENDPOINT: must have no path, query or fragment (put the bucket in CC2D_S3_BUCKET); got "${v}"`);
  }
  return `${url.protocol}//${url.host}`;
}

function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase());
}

/** True when `endpoint` is the dev stack's SeaweedFS (loopback, port 8333). */
export function isLocalDefaultS3Endpoint(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  const url = new URL(endpoint);
  return url.protocol === 'http:' && isLoopbackHost(url.hostname) && url.port === new URL(DEFAULT_S3_ENDPOINT).port;
}

/** Host and port of a `host:port` address (IPv6 in brackets). */
export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/**
 * Parses stack settings from `env` (default: `process.env`). Throws InvalidConfigError naming
 * the variable and the rule. Side effect, by design: for the local dev stack without
 * credentials in `env`, sets `env.AWS_SHARED_CREDENTIALS_FILE` and `env.AWS_PROFILE` so the
 * standard AWS credential chain (in this process and its children) finds the dev-stack keys.
 */
export function parseStackSettings(env: Env = process.env): StackSettings {
  const dataDir = path.resolve(PROJECT_ROOT, nonEmpty(env.CC2D_DATA_DIR) ?? '.data');
  const address = nonEmpty(env.CC2D_TEMPORAL_ADDRESS) ?? DEFAULT_TEMPORAL_ADDRESS;
  const endpoint = parseEndpoint(env.CC2D_S3_ENDPOINT);
  const certPath = nonEmpty(env.CC2D_TEMPORAL_TLS_CERT);
  const keyPath = nonEmpty(env.CC2D_TEMPORAL_TLS_KEY);
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new InvalidConfigError('CC2D_TEMPORAL_TLS_CERT and CC2D_TEMPORAL_TLS_KEY: set both (mTLS) or neither');
  }
  const tls = parseBool(env, 'CC2D_TEMPORAL_TLS', certPath !== undefined);
  const forcePathStyle = parseBool(env, 'CC2D_S3_FORCE_PATH_STYLE', true);
  const s3Local = isLocalDefaultS3Endpoint(endpoint);

  const hasEnvKeys = nonEmpty(env.AWS_ACCESS_KEY_ID) !== undefined && nonEmpty(env.AWS_SECRET_ACCESS_KEY) !== undefined;
  // An explicitly chosen profile or credentials file is respected, even for the local stack.
  const explicitChain = nonEmpty(env.AWS_PROFILE) !== undefined || nonEmpty(env.AWS_SHARED_CREDENTIALS_FILE) !== undefined;
  let credentialSource: CredentialSource = hasEnvKeys ? 'env' : 'aws-default-chain';
  const localFile = path.join(dataDir, LOCAL_CREDENTIALS_FILE_NAME);
  if (!hasEnvKeys && s3Local && (!explicitChain || (env.AWS_SHARED_CREDENTIALS_FILE === localFile && env.AWS_PROFILE === LOCAL_AWS_PROFILE))) {
    credentialSource = 'local-dev-file';
  }

  const candidate = {
    projectRoot: PROJECT_ROOT,
    dataDir,
    temporal: {
      address,
      namespace: nonEmpty(env.CC2D_TEMPORAL_NAMESPACE) ?? DEFAULT_NAMESPACE,
      tls,
      ...(certPath !== undefined ? { clientCertPath: path.resolve(certPath) } : {}),
      ...(keyPath !== undefined ? { clientKeyPath: path.resolve(keyPath) } : {}),
      local: false,
    },
    s3: {
      ...(endpoint !== undefined ? { endpoint } : {}),
      region: nonEmpty(env.CC2D_S3_REGION) ?? nonEmpty(env.AWS_REGION) ?? 'us-east-1',
      bucket: nonEmpty(env.CC2D_S3_BUCKET) ?? DEFAULT_S3_BUCKET,
      prefix: nonEmpty(env.CC2D_S3_PREFIX) ?? '',
      forcePathStyle,
      local: s3Local,
      credentialSource,
    },
  };
  const parsed = StackSettingsSchema.safeParse(candidate);
  if (!parsed.success) {
    const msgs = parsed.error.issues.map((issue) => {
      const key = issue.path.join('.');
      return `${ENV_OF_PATH[key] ?? key}: ${issue.message}`;
    });
    throw new InvalidConfigError(msgs.join('; '));
  }
  const settings = parsed.data;
  settings.temporal.local = isLoopbackHost(splitHostPort(settings.temporal.address).host);

  if (credentialSource === 'local-dev-file') {
    env.AWS_SHARED_CREDENTIALS_FILE = localFile;
    env.AWS_PROFILE = LOCAL_AWS_PROFILE;
  }
  return deepFreeze(settings);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

let cached: StackSettings | undefined;

/** The process-wide settings, parsed from `process.env` on first use. */
export function loadStackSettings(): StackSettings {
  cached ??= parseStackSettings(process.env);
  return cached;
}

/** Forget the cached settings (tests that change process.env). */
export function resetStackSettingsCache(): void {
  cached = undefined;
}

/** Path of the local dev stack's credentials file for `settings`. */
export function localCredentialsFile(settings: Pick<StackSettings, 'dataDir'>): string {
  return path.join(settings.dataDir, LOCAL_CREDENTIALS_FILE_NAME);
}
