/**
 * Which earlier run a longer SSL stage continues from (infra/cache/ssl-continuation.ts), over an
 * in-memory store: only an SSL cache entry whose key fields equal this run's but for fewer
 * `ssl.steps`, whose run is published and whose last checkpoint (manifest and blob) is intact;
 * the newest checkpoint wins. That the continued weights equal training from step 0 is shown on
 * the real servers in test/pipeline/stage-cache.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_MANIFEST_FORMAT, STAGE_CACHE_FORMAT, StageCacheEntrySchema, type CheckpointManifest, type StageCacheEntry } from '../../contracts/documents';
import { readJson } from '../../infra/storage/read-json';
import { checkpointManifestKey, continuableEntries, findSslContinuation } from '../../infra/cache/ssl-continuation';
import { recordStageCache } from '../../infra/cache/stage-cache';
import { stageCacheKey, stageKeyFields, type StageKeyInput } from '../../infra/cache/stage-keys';
import { runKeys } from '../../infra/storage/keys';
import { resolveProfile, type ProfileOverrides } from '../../ml/profiles';
import { RecordingMemoryStore } from '../dataset/support/memory-store';

const SHA = (c: string) => c.repeat(64);
const input = (o: ProfileOverrides = {}, seed = 2022): StageKeyInput => ({
  datasetVersion: 'v1', profile: resolveProfile('smoke', o), seed, trainIds: ['001', '002', '003'], templateId: '', shardCount: 1, trainImagesSha256: SHA('9'),
});
const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

/** A published (or not) run whose SSL stage of `keyInput` is in the cache, with its last checkpoint at `ckptStep`. */
async function storeRun(store: RecordingMemoryStore, runId: string, keyInput: StageKeyInput, ckptStep: number | undefined, opts: { published?: boolean } = {}): Promise<void> {
  const weights = await store.put(runKeys.weights(runId, 'ssl', SHA('1')), enc(`w-${runId}`));
  const lossLog = await store.put(runKeys.lossLog(runId, 'ssl', SHA('2')), enc('{}'));
  let lastCheckpoint;
  if (ckptStep !== undefined) {
    const keys = runKeys.checkpoint(runId, 'ssl', ckptStep, 1);
    lastCheckpoint = await store.put(keys.blob, enc(`ckpt-${runId}`));
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_MANIFEST_FORMAT, kind: 'ssl', runId, fingerprint: SHA('3'), step: ckptStep, totalSteps: keyInput.profile.ssl.steps,
      attempt: 1, loss: 1, blob: lastCheckpoint, createdAt: '2026-12-01T00:00:00Z',
    };
    await store.put(keys.manifest, enc(manifest));
  }
  if (opts.published !== false) await store.put(runKeys.manifest(runId), enc('{}'));
  const entry: StageCacheEntry = {
    format: STAGE_CACHE_FORMAT, stage: 'ssl', key: stageCacheKey('ssl', keyInput), sourceRunId: runId, fields: stageKeyFields('ssl', keyInput),
    train: {
      stage: 'ssl', weights, lossLog, ...(lastCheckpoint ? { lastCheckpoint } : {}), steps: keyInput.profile.ssl.steps, finalLoss: 1,
      resumedFromStep: 0, attempt: 1, backend: { backend: 'cpu', tfVersion: '-', tfjsVersion: '-' }, durationMs: 5,
    },
  };
  expect(await recordStageCache(store, entry)).toBe('created');
}

describe('SSL continuation', () => {
  const longer = input({ ssl: { steps: 40 } });
  const fieldsOf = (i: StageKeyInput) => stageKeyFields('ssl', i);

  it('continues from the newest checkpoint of a shorter run with otherwise equal SSL key fields', async () => {
    const store = new RecordingMemoryStore();
    await storeRun(store, 'run-12', input(), 8);
    await storeRun(store, 'run-20', input({ ssl: { steps: 20 } }), 16);
    // Not continuable: as long or longer, another read field, another seed, no checkpoint kept.
    await storeRun(store, 'run-40', input({ ssl: { steps: 40, checkpointEvery: 5 } }), 35);
    await storeRun(store, 'run-60', input({ ssl: { steps: 60 } }), 36);
    await storeRun(store, 'run-lr', input({ ssl: { steps: 30, lr: 5e-4 } }), 28);
    await storeRun(store, 'run-seed', input({ ssl: { steps: 30 } }, 7), 28);
    await storeRun(store, 'run-none', input({ ssl: { steps: 30, checkpointEvery: 100 } }), undefined);

    const c = await findSslContinuation(store, fieldsOf(longer));
    expect(c).toEqual({
      sourceRunId: 'run-20', step: 16, manifestKey: runKeys.checkpoint('run-20', 'ssl', 16, 1).manifest,
      checkpoint: expect.objectContaining({ key: runKeys.checkpoint('run-20', 'ssl', 16, 1).blob }), backend: { backend: 'cpu', tfVersion: '-', tfjsVersion: '-' },
    });
    // A prototype field is not in the SSL key: a run differing only there still continues.
    expect((await findSslContinuation(store, fieldsOf(input({ ssl: { steps: 40, prototypeRounds: 0 } }))))?.sourceRunId).toBe('run-20');
    // Nothing shorter with the same fields: train from step 0.
    expect(await findSslContinuation(store, fieldsOf(input({ ssl: { steps: 40, lr: 1e-4 } })))).toBeUndefined();
    expect(await findSslContinuation(store, fieldsOf(input({ ssl: { steps: 12 } })))).toBeUndefined();
  });

  it('skips a run that is unpublished, whose checkpoint is gone, or whose manifest names another blob', async () => {
    const store = new RecordingMemoryStore();
    await storeRun(store, 'run-12', input(), 8);
    await storeRun(store, 'run-unpublished', input({ ssl: { steps: 30 } }), 28, { published: false });
    await storeRun(store, 'run-gone', input({ ssl: { steps: 26 } }), 24);
    await store.delete([runKeys.checkpoint('run-gone', 'ssl', 24, 1).blob]);
    await storeRun(store, 'run-other-blob', input({ ssl: { steps: 22 } }), 20);
    const otherManifest = runKeys.checkpoint('run-other-blob', 'ssl', 20, 1).manifest;
    const m = JSON.parse(new TextDecoder().decode(await store.get(otherManifest))) as CheckpointManifest;
    await store.put(otherManifest, enc({ ...m, blob: { ...m.blob, sha256: SHA('4') } }));
    await store.put('cache/ssl/not-an-entry.json', enc('{"format":"something else"}'));

    expect((await findSslContinuation(store, fieldsOf(longer)))?.sourceRunId).toBe('run-12');
    await store.delete([runKeys.manifest('run-12')]);
    expect(await findSslContinuation(store, fieldsOf(longer))).toBeUndefined();
  });

  it('trusts an entry only when its fields hash to its key and its result is that long', async () => {
    const store = new RecordingMemoryStore();
    await storeRun(store, 'run-12', input(), 8);
    const [entry] = continuableEntries([await readJson(store, 'cache/ssl/' + stageCacheKey('ssl', input()) + '.json', StageCacheEntrySchema)], fieldsOf(longer));
    expect(entry?.sourceRunId).toBe('run-12');
    // Edited fields (a longer lrStepEvery, say) no longer match the key the entry was stored under.
    const edited = { ...entry!, fields: { ...entry!.fields, ssl: { ...(entry!.fields.ssl as object), lrStepEvery: 99 } } };
    expect(continuableEntries([edited], stageKeyFields('ssl', input({ ssl: { steps: 40, lrStepEvery: 99 } })))).toEqual([]);
    expect(continuableEntries([{ ...entry!, train: { ...entry!.train!, steps: 11 } }], fieldsOf(longer))).toEqual([]);
    expect(continuableEntries([entry!], { stage: 'tpl' })).toEqual([]);
    const keys = runKeys.checkpoint('r', 'ssl', 8, 2);
    expect(checkpointManifestKey(keys.blob)).toBe(keys.manifest);
  });
});
