/**
 * `planRun` (CPU): checks the run config against the published dataset (template in the train
 * split and in no test split — docs/reliability.md#b6; listed ids exist; the working size was ingested), and
 * fixes the run's ids: train ids, pseudo-label shards, test splits. Config errors are
 * non-retryable.
 */
import type { PlanRunInput, PlanRunOutput } from '../contracts/types';
import { checkConfigAgainstSplits } from '../infra/config/run-config';
import { DatasetReader } from '../infra/dataset/reader';
import { InvalidConfigError } from '../infra/errors';
import type { ObjectStore } from '../infra/storage/object-store';
import { retryingStore } from './failures';

/** `n` contiguous, non-empty, near-equal shards (fewer when there are fewer ids). */
export function shardIds(ids: readonly string[], n: number): string[][] {
  const count = Math.max(1, Math.min(n, ids.length));
  const shards: string[][] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const size = Math.floor(ids.length / count) + (i < ids.length % count ? 1 : 0);
    shards.push(ids.slice(start, start + size));
    start += size;
  }
  return shards;
}

export function createPlanRun(deps: { store: ObjectStore }) {
  return async function planRun(input: PlanRunInput): Promise<PlanRunOutput> {
    const reader = new DatasetReader(retryingStore(deps.store), input.datasetVersion);
    const [split, description] = await Promise.all([reader.split(), reader.description()]);
    const { config } = input;
    checkConfigAgainstSplits(config, split);
    if (!description.sizes.includes(input.inputSize)) {
      throw new InvalidConfigError(
        `invalid run config:\n  - config.dataset.version: dataset ${input.datasetVersion} has working sizes [${description.sizes.join(', ')}], the profile needs ${input.inputSize}; ingest the folder again with that size (run with dataset.dir)`,
      );
    }
    const trainIds = config.split.trainIds === 'all' ? [...split.train] : [...config.split.trainIds];
    const testSplits: Record<string, string[]> = {};
    const missingTestSplits: string[] = [];
    for (const name of config.split.testSplits) {
      const ids = (split as Record<string, string[] | undefined>)[name] ?? [];
      if (ids.length > 0) testSplits[name] = [...ids];
      else missingTestSplits.push(name);
    }
    return {
      trainIds,
      shards: shardIds(trainIds, config.pseudoLabelShards),
      testSplits,
      missingTestSplits,
      landmarkCount: description.landmarkCount,
      pixelSpacingMm: description.pixelSpacingMm,
    };
  };
}
