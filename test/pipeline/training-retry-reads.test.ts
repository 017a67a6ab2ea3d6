/**
 * A training activity retried after its completion was lost (docs/reliability.md#f8) returns the
 * stored result and reads nothing but its completion marker: no dataset image, no pseudo-label,
 * no SSL weights for the round-trip mask. The three real activities (trainSelfSupervised,
 * trainSupervised with tpl.maxRoundTrip, trainRefiner with refine.maxRoundTrip) run on the smoke
 * shapes in a MockActivityEnvironment against the REAL S3 server, each twice; every `get` of the
 * second attempt is recorded. The first attempt's reads show the recording sees the stage's data.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestActivities } from '../../activities/ingest-dataset';
import { createTrainRefiner } from '../../activities/train-refiner';
import { createTrainSelfSupervised } from '../../activities/train-self-supervised';
import { createTrainSupervised } from '../../activities/train-supervised';
import type { ActivityDeps } from '../../activities/deps';
import type { ArtifactRef, TrainOutput, TrainSupervisedInput } from '../../contracts/types';
import { DatasetReader } from '../../infra/dataset/reader';
import { runKeys } from '../../infra/storage/keys';
import type { ObjectInfo, ObjectStore, PutOptions, PutResult } from '../../infra/storage/object-store';
import { resolveProfile } from '../../ml/profiles';
import { makeFixture, type Fixture } from '../dataset/support/fixtures';
import { SKIPPED, requireStack } from '../support/stack';

const stack = await requireStack('training-retry-reads');

/** The real store, with every key read through it recorded. */
class ReadRecordingStore implements ObjectStore {
  readonly gets: string[] = [];
  constructor(private readonly inner: ObjectStore) {}
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult> {
    return this.inner.put(key, body, options);
  }
  get(key: string, expectSha256?: string): Promise<Uint8Array> {
    this.gets.push(key);
    return this.inner.get(key, expectSha256);
  }
  exists(key: string): Promise<boolean> {
    return this.inner.exists(key);
  }
  list(prefix: string): Promise<ObjectInfo[]> {
    return this.inner.list(prefix);
  }
  delete(keys: string[]): Promise<void> {
    return this.inner.delete(keys);
  }
}

const QUIET = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const TRAIN = ['001', '002', '003'];
const TEMPLATE = '002';
const REFINE = { inputSize: 128, patch: 16, channels: 4, batch: 4, steps: 3, lrDecaySteps: [2], jitter: 4, checkpointEvery: 2 };
// With round-trip limits set, the first attempt matches the mask (reading the SSL weights); the retry must not.
const profile = resolveProfile('smoke', {
  ssl: { steps: 3, checkpointEvery: 2 },
  tpl: { steps: 3, lrDecaySteps: [2], checkpointEvery: 2, maxRoundTrip: 40 },
  refine: { ...REFINE, maxRoundTrip: 40 },
});

describe.skipIf(!stack)('a training activity retried after a lost completion', () => {
  const { store } = stack ?? SKIPPED;
  const recording = new ReadRecordingStore(store);
  const deps: ActivityDeps = { store: recording, backend: () => ({ backend: 'tensorflow', tfVersion: 'test', tfjsVersion: 'test' }), codeVersion: 'test' };
  let fx: Fixture;
  let datasetVersion: string;
  let ssl: TrainOutput;
  let pseudoLabels: ArtifactRef;

  beforeAll(async () => {
    fx = await makeFixture({ train: TRAIN, test1: ['004'] });
    datasetVersion = (await createIngestActivities({ store }).ingestDataset({ datasetDir: fx.root, sizes: [profile.inputSize, REFINE.inputSize] })).datasetVersion;
    // The pseudo-labels: the fixture's own landmarks on the working grid (what matching would give).
    const reader = new DatasetReader(store, datasetVersion);
    const labels = Object.fromEntries(await Promise.all(TRAIN.map(async (id) => [id, await reader.workingLandmarks(id, profile.inputSize)] as const)));
    pseudoLabels = await store.put('retry-reads/pseudo-labels.json', new TextEncoder().encode(JSON.stringify({ inputSize: profile.inputSize, templateId: TEMPLATE, labels })));
  });
  afterAll(async () => {
    await fx?.cleanup();
    await stack?.cleanup();
  });

  /** Attempt 1, then attempt 2 with the reads recorded; both results and the keys each attempt read. */
  async function twice<I>(activity: (input: I) => Promise<TrainOutput>, input: I): Promise<{ first: TrainOutput; again: TrainOutput; firstReads: string[]; againReads: string[] }> {
    const attempt = (n: number) => new MockActivityEnvironment({ attempt: n }, { logger: QUIET }).run(activity, input) as Promise<TrainOutput>;
    recording.gets.length = 0;
    const first = await attempt(1);
    const firstReads = recording.gets.splice(0);
    const again = await attempt(2);
    return { first, again, firstReads, againReads: recording.gets.splice(0) };
  }

  const datasetReads = (keys: readonly string[]) => keys.filter((k) => k.includes(datasetVersion));

  it('trainSelfSupervised: the retry reads only the done marker', async () => {
    const runId = 'retry-reads-ssl';
    const r = await twice(createTrainSelfSupervised(deps), { runId, datasetVersion, profile, seed: 5, trainIds: TRAIN });
    ssl = r.first;
    expect(datasetReads(r.firstReads).length).toBeGreaterThan(0);
    expect(r.again).toEqual(r.first);
    expect(r.againReads).toEqual([runKeys.trainDone(runId, 'ssl')]);
  });

  const supervised = [
    ['trainSupervised', 'tpl', createTrainSupervised],
    ['trainRefiner', 'refine', createTrainRefiner],
  ] as const;
  for (const [name, kind, create] of supervised) {
    it(`${name} with a round-trip limit: the retry reads neither images, pseudo-labels nor SSL weights`, async () => {
      const runId = `retry-reads-${kind}`;
      const input: TrainSupervisedInput = { runId, datasetVersion, profile, seed: 5, trainIds: TRAIN, templateId: TEMPLATE, pseudoLabels: [pseudoLabels], sslWeights: ssl.weights };
      const r = await twice(create(deps), input);
      expect(r.first.leftOutLabels).toMatchObject({ maxRoundTrip: 40 });
      expect(r.firstReads).toEqual(expect.arrayContaining([pseudoLabels.key, ssl.weights.key]));
      expect(datasetReads(r.firstReads).length).toBeGreaterThan(0);
      expect(r.again).toEqual(r.first);
      expect(r.againReads).toEqual([runKeys.trainDone(runId, kind)]);
    });
  }
});
