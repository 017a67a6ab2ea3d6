import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_NAMESPACE, SEARCH_ATTRIBUTES, TASK_QUEUES } from '../../infra/config/names';
import { LOCAL_AWS_PROFILE, PROJECT_ROOT, parseStackSettings } from '../../infra/config/stack';
import { InvalidConfigError } from '../../infra/errors';

describe('stack settings from env', () => {
  it('has the documented defaults', () => {
    const env: Record<string, string | undefined> = {};
    const s = parseStackSettings(env);
    expect(s.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: DEFAULT_NAMESPACE, tls: false, local: true });
    expect(s.s3).toMatchObject({ endpoint: 'http://127.0.0.1:8333', bucket: 'cc2d', prefix: '', region: 'us-east-1', forcePathStyle: true, local: true });
    expect(s.dataDir).toBe(path.join(PROJECT_ROOT, '.data'));
    expect(Object.isFrozen(s) && Object.isFrozen(s.s3)).toBe(true);
  });

  it('reads every variable', () => {
    const s = parseStackSettings({
      CC2D_TEMPORAL_ADDRESS: 'temporal.example.org:7233',
      CC2D_TEMPORAL_NAMESPACE: 'ml-prod',
      CC2D_TEMPORAL_TLS: 'true',
      CC2D_S3_ENDPOINT: 'https://s3.eu-west-1.amazonaws.com/',
      CC2D_S3_REGION: 'eu-west-1',
      CC2D_S3_BUCKET: 'my.bucket-1',
      CC2D_S3_PREFIX: 'teams/ceph',
      CC2D_S3_FORCE_PATH_STYLE: 'false',
      CC2D_DATA_DIR: '/tmp/cc2d-data',
    });
    expect(s.temporal).toMatchObject({ address: 'temporal.example.org:7233', namespace: 'ml-prod', tls: true, local: false });
    expect(s.s3).toMatchObject({
      endpoint: 'https://s3.eu-west-1.amazonaws.com',
      region: 'eu-west-1',
      bucket: 'my.bucket-1',
      prefix: 'teams/ceph',
      forcePathStyle: false,
      local: false,
      credentialSource: 'aws-default-chain',
    });
    expect(s.dataDir).toBe('/tmp/cc2d-data');
    expect(parseStackSettings({ CC2D_S3_ENDPOINT: 'aws' }).s3.endpoint).toBeUndefined();
  });

  it.each([
    ['CC2D_TEMPORAL_ADDRESS', 'localhost', /CC2D_TEMPORAL_ADDRESS: must be host:port/],
    ['CC2D_TEMPORAL_ADDRESS', '127.0.0.1:70000', /CC2D_TEMPORAL_ADDRESS: port must be 1-65535/],
    ['CC2D_TEMPORAL_NAMESPACE', 'bad namespace', /CC2D_TEMPORAL_NAMESPACE: must be/],
    ['CC2D_TEMPORAL_TLS', 'maybe', /CC2D_TEMPORAL_TLS: must be true or false/],
    ['CC2D_S3_ENDPOINT', 'not a url', /CC2D_S3_ENDPOINT: must be an http\(s\) URL/],
    ['CC2D_S3_ENDPOINT', 'ftp://host', /CC2D_S3_ENDPOINT: must use http or https/],
    ['CC2D_S3_ENDPOINT', 'http://127.0.0.1:8333/cc2d', /CC2D_S3_ENDPOINT: must have no path/],
    ['CC2D_S3_ENDPOINT', 'http://user:pw@127.0.0.1:8333', /CC2D_S3_ENDPOINT: must not contain credentials/],
    ['CC2D_S3_BUCKET', 'Bad_Bucket', /CC2D_S3_BUCKET: must be 3-63 characters/],
    ['CC2D_S3_BUCKET', 'ab', /CC2D_S3_BUCKET: must be 3-63 characters/],
    ['CC2D_S3_BUCKET', '192.168.1.1', /CC2D_S3_BUCKET: must not contain/],
    ['CC2D_S3_PREFIX', '../up', /CC2D_S3_PREFIX: must be empty or slash-separated/],
    ['CC2D_S3_PREFIX', '/abs', /CC2D_S3_PREFIX/],
    ['CC2D_S3_PREFIX', 'trailing/', /CC2D_S3_PREFIX/],
    ['CC2D_S3_REGION', 'EU WEST', /CC2D_S3_REGION: must look like an AWS region/],
    ['CC2D_S3_FORCE_PATH_STYLE', 'sometimes', /CC2D_S3_FORCE_PATH_STYLE: must be true or false/],
  ])('%s=%j fails naming the variable', (name, value, msg) => {
    let err: unknown;
    try {
      parseStackSettings({ [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidConfigError);
    expect((err as Error).message).toMatch(msg);
  });

  it('requires TLS cert and key together', () => {
    expect(() => parseStackSettings({ CC2D_TEMPORAL_TLS_CERT: '/x.pem' })).toThrow(/CC2D_TEMPORAL_TLS_CERT and CC2D_TEMPORAL_TLS_KEY/);
  });

  describe('credentials', () => {
    it('points the standard chain at the dev-stack file only for the local default endpoint without env keys', () => {
      const env: Record<string, string | undefined> = { CC2D_DATA_DIR: '/tmp/d' };
      const s = parseStackSettings(env);
      expect(s.s3.credentialSource).toBe('local-dev-file');
      expect(env.AWS_SHARED_CREDENTIALS_FILE).toBe('/tmp/d/aws-credentials');
      expect(env.AWS_PROFILE).toBe(LOCAL_AWS_PROFILE);
      // Parsing again with the env it produced is stable.
      expect(parseStackSettings(env).s3.credentialSource).toBe('local-dev-file');
    });

    it('uses env keys when present and never copies them into the settings', () => {
      const env = { AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
      const s = parseStackSettings(env);
      expect(s.s3.credentialSource).toBe('env');
      expect(env).not.toHaveProperty('AWS_PROFILE');
      const json = JSON.stringify(s);
      expect(json).not.toContain('AKIAIOSFODNN7EXAMPLE');
      expect(json).not.toContain('wJalrXUtnFEMI');
    });

    it('respects an explicit profile, and leaves remote endpoints to the default chain', () => {
      const explicit: Record<string, string | undefined> = { AWS_PROFILE: 'mine' };
      expect(parseStackSettings(explicit).s3.credentialSource).toBe('aws-default-chain');
      expect(explicit.AWS_PROFILE).toBe('mine');
      const remote: Record<string, string | undefined> = { CC2D_S3_ENDPOINT: 'https://minio.example.org' };
      expect(parseStackSettings(remote).s3.credentialSource).toBe('aws-default-chain');
      expect(remote.AWS_SHARED_CREDENTIALS_FILE).toBeUndefined();
      const otherPort: Record<string, string | undefined> = { CC2D_S3_ENDPOINT: 'http://127.0.0.1:9000' };
      expect(parseStackSettings(otherPort).s3.credentialSource).toBe('aws-default-chain');
    });
  });
});

describe('wire names', () => {
  it('has the task queues and search attributes the pipeline uses', () => {
    expect(TASK_QUEUES).toEqual({ workflows: 'cc2d-workflows', gpu: 'cc2d-gpu', cpu: 'cc2d-cpu' });
    expect(Object.values(SEARCH_ATTRIBUTES).map((a) => `${a.name}=${a.type}`)).toEqual([
      'Cc2dRunId=KEYWORD',
      'Cc2dSite=KEYWORD',
      'Cc2dDatasetVersion=KEYWORD',
      'Cc2dProfile=KEYWORD',
      'Cc2dStage=KEYWORD',
      'Cc2dStatus=KEYWORD',
      'Cc2dMre=DOUBLE',
      'Cc2dProgress=DOUBLE',
      'Cc2dPromotion=KEYWORD',
    ]);
  });

  it('names.ts has no imports (workflow sandbox safe)', async () => {
    const { readFile } = await import('node:fs/promises');
    const src = await readFile(path.join(PROJECT_ROOT, 'infra/config/names.ts'), 'utf8');
    expect(src).not.toMatch(/^\s*import\s/m);
    expect(src).not.toMatch(/require\(/);
  });
});
