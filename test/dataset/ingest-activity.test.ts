import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createIngestActivities } from '../../activities/ingest-dataset';
import type { IngestOutput } from '../../contracts/types';
import { makeFlatSite } from './site/support/site-fixture';
import { makeFixture, type Fixture } from './support/fixtures';
import { RecordingMemoryStore } from './support/memory-store';

const fixtures: Fixture[] = [];
afterEach(async () => {
  while (fixtures.length > 0) await fixtures.pop()!.cleanup();
});

describe('ingestDataset activity', () => {
  it('heartbeats progress inside an activity and returns a small result; a retry reuses the version', async () => {
    const fx = await makeFixture();
    fixtures.push(fx);
    const store = new RecordingMemoryStore();
    const { ingestDataset } = createIngestActivities({ store });
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const out: IngestOutput = await env.run(ingestDataset, { datasetDir: fx.root, sizes: [16], site: 'default' });
    expect(out).toEqual({ datasetVersion: expect.stringMatching(/^[0-9a-f]{64}$/), counts: { images: 3, train: 2, test1: 1, test2: 0 }, reused: false });
    expect(beats.length).toBeGreaterThan(3);
    expect(beats.at(-1)).toMatchObject({ stage: 'ingest', step: 7, totalSteps: 7 });
    expect(JSON.stringify(out).length).toBeLessThan(300);
    expect(await new MockActivityEnvironment().run(ingestDataset, { datasetDir: fx.root, sizes: [16] })).toEqual({ ...out, reused: true });
  });

  it('detects a site folder and ingests it with the run template; without a template it fails non-retryably', async () => {
    const site = await makeFlatSite(3, 2, ['003']);
    fixtures.push({ cleanup: () => site.cleanup() } as Fixture);
    const { ingestDataset } = createIngestActivities({ store: new RecordingMemoryStore() });
    const out = await new MockActivityEnvironment().run(ingestDataset, { datasetDir: site.root, sizes: [16], templateId: '001' });
    expect(out).toMatchObject({ counts: { images: 3, labelled: 2, train: 2, eval: 1 }, reused: false });
    const err = await new MockActivityEnvironment().run(ingestDataset, { datasetDir: site.root, sizes: [16], layout: 'site' as const }).catch((e: unknown) => e);
    expect(err).toMatchObject({ nonRetryable: true, type: 'InvalidConfig' });
  });

  it('works outside an activity (no Context): CLI and scripts', async () => {
    const fx = await makeFixture();
    fixtures.push(fx);
    const { ingestDataset } = createIngestActivities({ store: new RecordingMemoryStore() });
    expect((await ingestDataset({ datasetDir: fx.root, sizes: [16] })).reused).toBe(false);
  });

  it('fails non-retryably, naming the file, and writes nothing', async () => {
    const fx = await makeFixture();
    fixtures.push(fx);
    await fx.write('AnnotationsByMD/400_junior/002.txt', '1,2\n');
    const store = new RecordingMemoryStore();
    const { ingestDataset } = createIngestActivities({ store });
    const err = await new MockActivityEnvironment().run(ingestDataset, { datasetDir: fx.root, sizes: [16] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe('DatasetInvalid');
    expect(failure.message).toContain('AnnotationsByMD/400_junior/002.txt: wrong landmark count: 1 landmark line(s), expected 19');
    expect(failure.details?.[0]).toMatchObject({ total: 1 });
    const keyErr = await new MockActivityEnvironment().run(ingestDataset, { datasetDir: fx.root, sizes: [16], site: '../x' }).catch((e: unknown) => e);
    expect(keyErr).toMatchObject({ type: 'InvalidDatasetKey', nonRetryable: true });
    expect(store.puts).toEqual([]);
  });

  it('stops when the activity is cancelled', async () => {
    const fx = await makeFixture({ train: ['001', '002', '004', '005'], test1: ['003'] });
    fixtures.push(fx);
    const store = new RecordingMemoryStore();
    const { ingestDataset } = createIngestActivities({ store });
    const env = new MockActivityEnvironment();
    env.on('heartbeat', () => env.cancel());
    await expect(env.run(ingestDataset, { datasetDir: fx.root, sizes: [16] })).rejects.toThrow();
    expect(store.puts).toEqual([]);
  });
});
