/**
 * The cross-run stage cache without servers: which fields each stage key reads (a read field,
 * the data, an upstream hash or the stage code version changes the key; an unread field keeps
 * it; SSL reads the training images' digest, the others the dataset version), and the cache index over an in-memory store (only a published run's entry
 * with all its artifacts present is a hit; the first usable entry wins).
 */
import { describe, expect, it } from 'vitest';
import { STAGE_CACHE_FORMAT, type StageCacheEntry } from '../../contracts/documents';
import type { TrainOutput } from '../../contracts/types';
import { buildPipelineInput, loadRunConfig } from '../../infra/config/run-config';
import { lookupStageCache, recordStageCache, stageCacheEntryKey } from '../../infra/cache/stage-cache';
import {
  SSL_FIELDS_READ, SSL_FIELDS_UNREAD, STAGE_CODE_VERSIONS, TPL_FIELDS_READ, TPL_FIELDS_UNREAD, stageCacheKey, stageKeyFields, trainImagesDigest,
  type CacheStage, type StageKeyInput,
} from '../../infra/cache/stage-keys';
import { runKeys } from '../../infra/storage/keys';
import { PROFILES, resolveProfile, SslProfileSchema, TplProfileSchema, type ProfileOverrides } from '../../ml/profiles';
import { RecordingMemoryStore } from '../dataset/support/memory-store';

const SHA = (c: string) => c.repeat(64);
const BASE: StageKeyInput = {
  datasetVersion: 'v1', profile: PROFILES.smoke, seed: 2022, trainIds: ['001', '002', '003'], templateId: '002', shardCount: 2,
  trainImagesSha256: SHA('9'), sslWeightsSha256: SHA('a'), pseudoLabelSha256s: [SHA('b'), SHA('c')],
};
const STAGES: CacheStage[] = ['ssl', 'pseudo-labels', 'tpl'];
const keys = (input: StageKeyInput, versions = STAGE_CODE_VERSIONS) => Object.fromEntries(STAGES.map((s) => [s, stageCacheKey(s, input, versions)]));
const withProfile = (o: ProfileOverrides): StageKeyInput => ({ ...BASE, profile: resolveProfile('smoke', o) });

/** Which stages' keys differ between BASE and `changed`. */
function changedStages(changed: StageKeyInput, versions = STAGE_CODE_VERSIONS): CacheStage[] {
  const a = keys(BASE);
  const b = keys(changed, versions);
  return STAGES.filter((s) => a[s] !== b[s]);
}

describe('stage cache keys', () => {
  it('list every profile field as read or unread', () => {
    // The schemas' fields, optional ones included (no built-in profile needs to set them).
    expect([...SSL_FIELDS_READ, ...SSL_FIELDS_UNREAD].sort()).toEqual(Object.keys(SslProfileSchema.shape).sort());
    expect([...TPL_FIELDS_READ, ...TPL_FIELDS_UNREAD].sort()).toEqual(Object.keys(TplProfileSchema.shape).sort());
  });

  it('keep the key when only an unread field changes', () => {
    expect(changedStages(withProfile({ tpl: { lr: 1e-3 } }))).toEqual(['tpl']);
    expect(changedStages(withProfile({ ssl: { checkpointEvery: 3 }, tpl: { checkpointEvery: 3 } }))).toEqual([]);
    // Matching reads the network's shape, not how it was trained (that is in the weights' hash).
    expect(changedStages(withProfile({ ssl: { lr: 5e-4 } }))).toEqual(['ssl']);
    expect(changedStages({ ...BASE, templateId: '003' })).toEqual(['pseudo-labels', 'tpl']);
    expect(changedStages({ ...BASE, profile: { ...BASE.profile, name: 'renamed' } })).toEqual([]);
  });

  it('change the key when a read field, the data or the seed changes', () => {
    // A new dataset version with the same training images (e.g. a label changed) keeps the SSL key.
    expect(changedStages({ ...BASE, datasetVersion: 'v2' })).toEqual(['pseudo-labels', 'tpl']);
    expect(changedStages({ ...BASE, trainImagesSha256: SHA('8') })).toEqual(['ssl']);
    expect(changedStages({ ...BASE, trainIds: ['001', '002'] })).toEqual(STAGES);
    expect(changedStages(withProfile({ inputSize: 96 }))).toEqual(STAGES);
    expect(changedStages({ ...BASE, seed: 7 })).toEqual(['ssl', 'tpl']);
    expect(changedStages(withProfile({ ssl: { width: 0.125 } }))).toEqual(['ssl', 'pseudo-labels']);
    // Prototype matching changes the pseudo-labels, not what SSL trains.
    expect(changedStages(withProfile({ ssl: { prototypeRounds: 0 } }))).toEqual(['pseudo-labels']);
    expect(changedStages(withProfile({ ssl: { prototypeFromLevel: 3 } }))).toEqual(['pseudo-labels']);
    expect(changedStages(withProfile({ tpl: { heatLossNorm: 'positives' } }))).toEqual(['tpl']);
    expect(changedStages({ ...BASE, shardCount: 3 })).toEqual(['pseudo-labels']);
  });

  it('change the key when an upstream artifact hash changes', () => {
    expect(changedStages({ ...BASE, sslWeightsSha256: SHA('d') })).toEqual(['pseudo-labels']);
    expect(changedStages({ ...BASE, pseudoLabelSha256s: [SHA('b'), SHA('d')] })).toEqual(['tpl']);
  });

  it('TPL with a round-trip limit also reads the SSL weights (its label mask is matched with them); null is no limit', () => {
    const limited = withProfile({ tpl: { maxRoundTrip: 2 } });
    expect(changedStages(limited)).toEqual(['tpl']);
    expect(stageKeyFields('tpl', limited)).toMatchObject({ sslWeights: SHA('a'), tpl: { maxRoundTrip: 2 } });
    expect(stageCacheKey('tpl', { ...limited, sslWeightsSha256: SHA('d') })).not.toBe(stageCacheKey('tpl', limited));
    expect(() => stageCacheKey('tpl', { ...limited, sslWeightsSha256: undefined })).toThrow(/SSL weights/);
    expect(changedStages(withProfile({ tpl: { maxRoundTrip: 3 } }))).toEqual(['tpl']);
    // Without a limit, null or absent: the key of before the field existed; the SSL weights unread.
    expect(changedStages(withProfile({ tpl: { maxRoundTrip: null } }))).toEqual([]);
    expect(stageKeyFields('tpl', BASE)).not.toHaveProperty('sslWeights');
  });

  it("change only that stage's key when its code version is bumped", () => {
    for (const stage of STAGES) expect(changedStages(BASE, { ...STAGE_CODE_VERSIONS, [stage]: STAGE_CODE_VERSIONS[stage] + 1 })).toEqual([stage]);
  });

  it('are switched by config.cache (default on; --no-cache off), which is outside the config hash', async () => {
    const on = await loadRunConfig({ dataset: '/data/isbi' }, {});
    const off = await loadRunConfig({ dataset: '/data/isbi', cache: false }, {});
    expect([on.cache, off.cache]).toEqual([true, false]);
    expect(buildPipelineInput(off).configHash).toBe(buildPipelineInput(on).configHash);
  });

  it('require the upstream hashes of the stages that read them', () => {
    expect(() => stageCacheKey('pseudo-labels', { ...BASE, sslWeightsSha256: undefined })).toThrow(/SSL weights/);
    expect(() => stageCacheKey('tpl', { ...BASE, pseudoLabelSha256s: undefined })).toThrow(/pseudo-label/);
    expect(() => stageCacheKey('ssl', { ...BASE, trainImagesSha256: undefined })).toThrow(/training images/);
  });

  it('SSL hashes the training images, not the dataset version; the others hash the version', () => {
    expect(stageKeyFields('ssl', BASE)).toMatchObject({ trainImages: SHA('9'), trainIds: BASE.trainIds });
    expect(stageKeyFields('ssl', BASE)).not.toHaveProperty('datasetVersion');
    for (const stage of ['pseudo-labels', 'tpl'] as const) expect(stageKeyFields(stage, BASE)).toMatchObject({ datasetVersion: 'v1' });
  });

  it('digest the training images from the manifest: sorted (id, sha256) pairs at the input size', () => {
    const files = ['001', '002', '003'].flatMap((id, i) => [
      { key: `images/64/${id}.png`, sha256: SHA(String(i + 1)) }, { key: `images/128/${id}.png`, sha256: SHA('f') },
    ]);
    const digest = trainImagesDigest([...files, { key: 'labels.json', sha256: SHA('a') }], 64, ['001', '002']);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    // Labels, other sizes, the order of the files or of the ids, and untrained images do not count.
    expect(trainImagesDigest([...files].reverse(), 64, ['002', '001'])).toBe(digest);
    expect(trainImagesDigest([...files, { key: 'labels.json', sha256: SHA('b') }], 64, ['001', '002'])).toBe(digest);
    expect(trainImagesDigest(files.map((f) => (f.key === 'images/128/001.png' ? { ...f, sha256: SHA('e') } : f)), 64, ['001', '002'])).toBe(digest);
    // The content of a trained image, or another set of images, does.
    expect(trainImagesDigest(files.map((f) => (f.key === 'images/64/002.png' ? { ...f, sha256: SHA('e') } : f)), 64, ['001', '002'])).not.toBe(digest);
    expect(trainImagesDigest(files, 64, ['001', '003'])).not.toBe(digest);
    expect(trainImagesDigest(files, 128, ['001', '002'])).not.toBe(digest);
    expect(() => trainImagesDigest(files, 64, ['001', '004'])).toThrow(/no 64px working image of "004"/);
  });
});

describe('stage cache index', () => {
  const put = (store: RecordingMemoryStore, key: string, text = 'x') => store.put(key, new TextEncoder().encode(text));
  const ref = (key: string) => ({ key, sha256: SHA('e'), size: 1 });
  const sslOutput = (runId: string): TrainOutput => ({
    stage: 'ssl', weights: ref(runKeys.weights(runId, 'ssl', SHA('1'))), lossLog: ref(runKeys.lossLog(runId, 'ssl', SHA('2'))),
    steps: 12, finalLoss: Number.NaN, resumedFromStep: 0, attempt: 1, backend: { backend: 'cpu', tfVersion: '-', tfjsVersion: '-' }, durationMs: 5,
  });
  const entry = (runId: string): StageCacheEntry => ({ format: STAGE_CACHE_FORMAT, stage: 'ssl', key: SHA('f'), sourceRunId: runId, fields: {}, train: sslOutput(runId) });
  async function storeRun(store: RecordingMemoryStore, runId: string, published: boolean): Promise<void> {
    const out = sslOutput(runId);
    await put(store, out.weights.key);
    await put(store, out.lossLog.key);
    if (published) await put(store, runKeys.manifest(runId));
  }

  it('hits only an entry of a published run whose artifacts are all present', async () => {
    const store = new RecordingMemoryStore();
    expect(await lookupStageCache(store, 'ssl', SHA('f'))).toEqual({ miss: 'no entry' });
    await storeRun(store, 'run-a', false);
    expect(await recordStageCache(store, entry('run-a'))).toBe('created');
    expect((await lookupStageCache(store, 'ssl', SHA('f'))).entry).toBeUndefined();
    await put(store, runKeys.manifest('run-a'));
    const hit = await lookupStageCache(store, 'ssl', SHA('f'));
    expect(hit.entry?.sourceRunId).toBe('run-a');
    expect(Number.isNaN(hit.entry?.train?.finalLoss)).toBe(true);
    expect((await lookupStageCache(store, 'tpl', SHA('f'))).entry).toBeUndefined();
    await store.delete([sslOutput('run-a').weights.key]);
    expect(await lookupStageCache(store, 'ssl', SHA('f'))).toEqual({ miss: expect.stringContaining('is gone') });
  });

  it('keeps the first usable entry and replaces one whose run is gone', async () => {
    const store = new RecordingMemoryStore();
    await storeRun(store, 'run-a', true);
    await storeRun(store, 'run-b', true);
    expect(await recordStageCache(store, entry('run-a'))).toBe('created');
    expect(await recordStageCache(store, entry('run-b'))).toBe('kept');
    await store.delete([runKeys.manifest('run-a')]);
    expect(await recordStageCache(store, entry('run-b'))).toBe('replaced');
    expect((await lookupStageCache(store, 'ssl', SHA('f'))).entry?.sourceRunId).toBe('run-b');
    expect(store.objects.has(stageCacheEntryKey('ssl', SHA('f')))).toBe(true);
  });
});
