/**
 * The cross-run stage cache as the pipeline uses it: `lookupCache` (CPU), asked by the workflow
 * before SSL, pseudo-labels and TPL, returns the stage's key and, on a hit, the stored result of
 * the published run that computed it (on an SSL miss, a shorter earlier run to continue from:
 * infra/cache/ssl-continuation.ts); `recordRunStages`, called by the report activity once the
 * run is published, indexes the stages this run computed itself; `recordSuggestedSsl` does the
 * same for the SSL weights `cc2dSuggestTemplate` trained, so the site's first run after labelling
 * reuses them (the SSL key reads no labels). The SSL key's digest of the
 * training images is read here from the dataset version's manifest (S3, so never in a workflow).
 */
import { Context } from '@temporalio/activity';
import type { CacheStage, LookupCacheInput, LookupCacheOutput, SslContinuation, TrainOutput, TrainSelfSupervisedInput, WriteReportInput } from '../contracts/types';
import { lookupStageCache, recordStageCache, STAGE_CACHE_FORMAT, type StageCacheEntry } from '../infra/cache/stage-cache';
import { findSslContinuation } from '../infra/cache/ssl-continuation';
import { CACHE_STAGES, stageCacheKey, stageKeyFields, trainImagesDigest, type StageKeyInput } from '../infra/cache/stage-keys';
import { datasetPrefix } from '../infra/dataset/published';
import { runPrefix } from '../infra/storage/keys';
import { readManifest } from '../infra/storage/manifest';
import { DatasetInvalidError } from '../infra/errors';
import { NotFoundError, type ObjectStore } from '../infra/storage/object-store';
import type { ActivityDeps } from './deps';
import { isTransientStorage, retryingStore } from './failures';
import { buildLineageManifest, publishExisting } from './publish-run';

/** `trainImagesDigest` of a published dataset version (one manifest read). */
async function trainImagesSha256(store: ObjectStore, datasetVersion: string, inputSize: number, trainIds: readonly string[]): Promise<string> {
  let manifest;
  try {
    manifest = await readManifest(store, datasetPrefix(datasetVersion), { verify: 'none' });
  } catch (err) {
    if (err instanceof NotFoundError) throw new DatasetInvalidError([`dataset version ${datasetVersion}: manifest.json not found (is the version published?)`]);
    throw err;
  }
  return trainImagesDigest(manifest.files, inputSize, trainIds);
}

async function keyInputOf(store: ObjectStore, input: LookupCacheInput): Promise<StageKeyInput> {
  return {
    datasetVersion: input.datasetVersion, profile: input.profile, seed: input.seed, trainIds: input.trainIds,
    templateId: input.templateId, shardCount: input.shardCount,
    ...(input.stage === 'ssl' ? { trainImagesSha256: await trainImagesSha256(store, input.datasetVersion, input.profile.inputSize, input.trainIds) } : {}),
    ...(input.sslWeights ? { sslWeightsSha256: input.sslWeights.sha256 } : {}),
    ...(input.pseudoLabels ? { pseudoLabelSha256s: input.pseudoLabels.map((r) => r.sha256) } : {}),
    ...(input.backboneWeights ? { backboneWeightsSha256: input.backboneWeights.sha256 } : {}),
  };
}

/** A shorter run to continue from; a failed search only costs the speed-up (the stage trains from step 0). */
async function continuationOf(store: ObjectStore, keyInput: StageKeyInput): Promise<SslContinuation | undefined> {
  try {
    return await findSslContinuation(store, stageKeyFields('ssl', keyInput));
  } catch (err) {
    Context.current().log.warn('SSL continuation not searched; training from step 0', { error: (err as Error).message });
    return undefined;
  }
}

export function createLookupCache(deps: Pick<ActivityDeps, 'store'>) {
  return async function lookupCache(input: LookupCacheInput): Promise<LookupCacheOutput> {
    const store = retryingStore(deps.store);
    const keyInput = await keyInputOf(store, input);
    const key = stageCacheKey(input.stage, keyInput);
    const found = await lookupStageCache(store, input.stage, key);
    const log = Context.current().log;
    if (!found.entry) {
      log.info('stage cache miss', { stage: input.stage, key, reason: found.miss });
      const continueFrom = input.stage === 'ssl' ? await continuationOf(store, keyInput) : undefined;
      if (continueFrom) log.info('SSL continues from a shorter earlier run', { ...continueFrom });
      return { key, ...(continueFrom ? { continueFrom } : {}) };
    }
    const { entry } = found;
    log.info('stage cache hit', { stage: input.stage, key, sourceRunId: entry.sourceRunId });
    return { key, hit: { sourceRunId: entry.sourceRunId, ...(entry.train ? { train: entry.train } : {}), ...(entry.shards ? { shards: entry.shards } : {}) } };
  };
}

/** The cache entry saying `sourceRunId` computed `stage` (its result) for `keyInput`. */
function entryOf(stage: CacheStage, keyInput: StageKeyInput, sourceRunId: string, result: Pick<StageCacheEntry, 'train' | 'shards'>): StageCacheEntry {
  return { format: STAGE_CACHE_FORMAT, stage, key: stageCacheKey(stage, keyInput), sourceRunId, fields: stageKeyFields(stage, keyInput), ...result };
}

/** Indexes the stages the (just published) run computed itself; reused stages keep their source's entry. */
export async function recordRunStages(deps: Pick<ActivityDeps, 'store'>, input: WriteReportInput): Promise<Partial<Record<CacheStage, string>>> {
  const { pipeline, plan, ssl, tpl } = input;
  const shards = [...input.pseudoLabels].sort((a, b) => a.shardIndex - b.shardIndex);
  const store = retryingStore(deps.store);
  const keyInput: StageKeyInput = {
    datasetVersion: input.datasetVersion, profile: pipeline.profile, seed: pipeline.config.seed, trainIds: plan.trainIds,
    templateId: pipeline.config.templateId, shardCount: plan.shardCount,
    trainImagesSha256: await trainImagesSha256(store, input.datasetVersion, pipeline.profile.inputSize, plan.trainIds),
    sslWeightsSha256: ssl.weights.sha256, pseudoLabelSha256s: shards.map((s) => s.labels.sha256),
    ...(pipeline.config.backboneWeights ? { backboneWeightsSha256: pipeline.config.backboneWeights.sha256 } : {}),
  };
  const results: Partial<Record<CacheStage, string>> = {};
  for (const stage of CACHE_STAGES) {
    if (input.reusedFrom?.[stage] !== undefined) continue;
    results[stage] = await recordStageCache(store, entryOf(stage, keyInput, input.runId, stage === 'ssl' ? { train: ssl } : stage === 'tpl' ? { train: tpl } : { shards }));
  }
  return results;
}

/** The SSL stage a template suggestion trained, with the input it was trained from. */
export interface RecordSuggestedSslInput extends Omit<TrainSelfSupervisedInput, 'backboneWeights'> {
  ssl: TrainOutput;
}

/**
 * `recordSuggestedSsl` (CPU): publishes the suggestion's SSL artifacts under its own run prefix
 * (a manifest of kind `cc2d-ssl-suggestion`, so they count as published: a hit needs that, and
 * cleanup never deletes them) and records them as the SSL stage of its key.
 */
export function createRecordSuggestedSsl(deps: Pick<ActivityDeps, 'store'>) {
  return async function recordSuggestedSsl(input: RecordSuggestedSslInput): Promise<'created' | 'kept' | 'replaced' | 'skipped'> {
    const store = retryingStore(deps.store);
    const { runId, datasetVersion, profile, seed, trainIds, ssl } = input;
    const log = Context.current().log;
    try {
      const prefix = runPrefix(runId);
      const manifest = buildLineageManifest({
        runId, prefix, artifacts: { sslWeights: ssl.weights, sslLossLog: ssl.lossLog },
        lineage: { kind: 'cc2d-ssl-suggestion', runId, datasetVersion, profile: profile.name, seeds: { run: seed }, backends: { ssl: ssl.backend } },
      });
      await publishExisting(store, prefix, manifest);
      const keyInput: StageKeyInput = {
        datasetVersion, profile, seed, trainIds, templateId: '', shardCount: 1,
        trainImagesSha256: await trainImagesSha256(store, datasetVersion, profile.inputSize, trainIds),
      };
      const entry = entryOf('ssl', keyInput, runId, { train: ssl });
      const recorded = await recordStageCache(store, entry);
      log.info('suggestion SSL recorded in the stage cache', { runId, key: entry.key, recorded });
      return recorded;
    } catch (err) {
      // The ranking does not need the cache entry: only a later run's reuse is lost.
      if (isTransientStorage(err)) throw err;
      log.warn('suggestion SSL not recorded in the stage cache', { runId, error: (err as Error).message });
      return 'skipped';
    }
  };
}
