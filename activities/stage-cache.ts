/**
 * The cross-run stage cache as the pipeline uses it: `lookupCache` (CPU), asked by the workflow
 * before SSL, pseudo-labels and TPL, returns the stage's key and, on a hit, the stored result of
 * the published run that computed it; `recordRunStages`, called by the report activity once the
 * run is published, indexes the stages this run computed itself. The SSL key's digest of the
 * training images is read here from the dataset version's manifest (S3, so never in a workflow).
 */
import { Context } from '@temporalio/activity';
import type { CacheStage, LookupCacheInput, LookupCacheOutput, WriteReportInput } from '../contracts/types';
import { lookupStageCache, recordStageCache, STAGE_CACHE_FORMAT, type StageCacheEntry } from '../infra/cache/stage-cache';
import { CACHE_STAGES, stageCacheKey, stageKeyFields, trainImagesDigest, type StageKeyInput } from '../infra/cache/stage-keys';
import { datasetPrefix } from '../infra/dataset/published';
import { readManifest } from '../infra/storage/manifest';
import type { ObjectStore } from '../infra/storage/object-store';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';

/** `trainImagesDigest` of a published dataset version (one manifest read). */
async function trainImagesSha256(store: ObjectStore, datasetVersion: string, inputSize: number, trainIds: readonly string[]): Promise<string> {
  const manifest = await readManifest(store, datasetPrefix(datasetVersion), { verify: 'none' });
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

export function createLookupCache(deps: Pick<ActivityDeps, 'store'>) {
  return async function lookupCache(input: LookupCacheInput): Promise<LookupCacheOutput> {
    const store = retryingStore(deps.store);
    const key = stageCacheKey(input.stage, await keyInputOf(store, input));
    const found = await lookupStageCache(store, input.stage, key);
    const log = Context.current().log;
    if (!found.entry) {
      log.info('stage cache miss', { stage: input.stage, key, reason: found.miss });
      return { key };
    }
    const { entry } = found;
    log.info('stage cache hit', { stage: input.stage, key, sourceRunId: entry.sourceRunId });
    return { key, hit: { sourceRunId: entry.sourceRunId, ...(entry.train ? { train: entry.train } : {}), ...(entry.shards ? { shards: entry.shards } : {}) } };
  };
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
    const entry: StageCacheEntry = {
      format: STAGE_CACHE_FORMAT, stage, key: stageCacheKey(stage, keyInput), sourceRunId: input.runId,
      fields: stageKeyFields(stage, keyInput),
      ...(stage === 'ssl' ? { train: ssl } : stage === 'tpl' ? { train: tpl } : { shards }),
    };
    results[stage] = await recordStageCache(store, entry);
  }
  return results;
}

