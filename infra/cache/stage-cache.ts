/**
 * The stage cache index: `cache/<stage>/<key>.json` → a stage result of an earlier run
 * (StageCacheEntry). Entries are written only after their run is published, and a hit is
 * accepted only when the source run is still published and every artifact it names exists:
 * cleanup deletes unpublished runs' objects only, so a published run's artifacts are safe to
 * reference from other runs (they are content-addressed and never rewritten).
 */
import { STAGE_CACHE_FORMAT, StageCacheEntrySchema, type StageCacheEntry } from '../../contracts/documents';
import type { ArtifactRef, CacheStage } from '../../contracts/types';
import { runPrefix } from '../storage/keys';
import { isPublished } from '../storage/manifest';
import { NotFoundError, PreconditionFailedError, type ObjectStore } from '../storage/object-store';
import { InvalidDocumentError, readJson } from '../storage/read-json';

export { STAGE_CACHE_FORMAT, type StageCacheEntry };

export function stageCacheEntryKey(stage: CacheStage, key: string): string {
  return `cache/${stage}/${key}.json`;
}

/** The artifacts a later run would read from the entry's source run. */
export function entryArtifacts(entry: StageCacheEntry): ArtifactRef[] {
  return [...(entry.train ? [entry.train.weights, entry.train.lossLog] : []), ...(entry.shards ?? []).map((s) => s.labels)];
}

export type CacheLookup = { entry: StageCacheEntry } | { entry?: undefined; miss: string };

/** The usable entry for (stage, key), or why there is none. */
export async function lookupStageCache(store: ObjectStore, stage: CacheStage, key: string): Promise<CacheLookup> {
  let entry: StageCacheEntry;
  try {
    entry = await readJson(store, stageCacheEntryKey(stage, key), StageCacheEntrySchema);
  } catch (err) {
    if (err instanceof NotFoundError) return { miss: 'no entry' };
    if (err instanceof InvalidDocumentError) return { miss: `unreadable entry (${err.message})` };
    throw err;
  }
  if (entry.stage !== stage || entry.key !== key) return { miss: 'entry of another stage or key' };
  const fits = stage === 'pseudo-labels' ? (entry.shards?.length ?? 0) > 0 : entry.train?.stage === stage;
  if (!fits) return { miss: `entry holds no ${stage} result` };
  if (!(await isPublished(store, runPrefix(entry.sourceRunId)))) return { miss: `source run ${entry.sourceRunId} is not published` };
  for (const a of entryArtifacts(entry)) {
    if (!(await store.exists(a.key))) return { miss: `artifact ${a.key} of ${entry.sourceRunId} is gone` };
  }
  return { entry };
}

/**
 * Records a published run's stage result. The first entry for a key wins (conditional create),
 * unless it is no longer usable (its run or artifacts are gone): then this one replaces it.
 */
export async function recordStageCache(store: ObjectStore, entry: StageCacheEntry): Promise<'created' | 'kept' | 'replaced'> {
  const key = stageCacheEntryKey(entry.stage, entry.key);
  const bytes = new TextEncoder().encode(JSON.stringify(entry));
  try {
    await store.put(key, bytes, { ifNoneMatch: true, contentType: 'application/json' });
    return 'created';
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
  }
  if ((await lookupStageCache(store, entry.stage, entry.key)).entry) return 'kept';
  await store.put(key, bytes, { contentType: 'application/json' });
  return 'replaced';
}
