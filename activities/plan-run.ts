/**
 * `planRun` (CPU): checks the run config against the published dataset (template in the train
 * split and in no test split, docs/reliability.md#b6; listed ids exist; the working size was ingested), and fixes the
 * run's ids: train ids, pseudo-label shards, and per evaluation split its LABELLED ids (only
 * those can be scored). A site dataset whose only annotation is the template plans a run with
 * no test ids: it still predicts every image, without metrics. Config errors are non-retryable.
 */
import type { DatasetDescription, DatasetLabels, DatasetSplit } from '../contracts/documents';
import type { PlanRunInput, PlanRunOutput } from '../contracts/types';
import { checkConfigAgainstSplits, type RunConfig } from '../infra/config/run-config';
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

/**
 * The evaluation splits of a run: the requested ones; for a site dataset whose splits the
 * request does not name (the ISBI default test1/test2), the site's own evaluation splits.
 */
export function evaluationSplitNames(requested: readonly string[], split: DatasetSplit, description: DatasetDescription): string[] {
  if (description.kind !== 'site' || requested.some((name) => name in split)) return [...requested];
  return Object.keys(description.testIdsCovered);
}

/** Evaluation split → its labelled ids; names with none are `missing`. */
export function labelledTestSplits(names: readonly string[], split: DatasetSplit, labels: Pick<DatasetLabels, 'images'>) {
  const testSplits: Record<string, string[]> = {};
  const missing: string[] = [];
  for (const name of names) {
    const ids = (split[name] ?? []).filter((id) => labels.images[id]?.labelled === true);
    if (ids.length > 0) testSplits[name] = ids;
    else missing.push(name);
  }
  return { testSplits, missing };
}

export function createPlanRun(deps: { store: ObjectStore }) {
  return async function planRun(input: PlanRunInput): Promise<PlanRunOutput> {
    const reader = new DatasetReader(retryingStore(deps.store), input.datasetVersion);
    const [split, description, labels] = await Promise.all([reader.split(), reader.description(), reader.labels()]);
    const testSplitNames = evaluationSplitNames(input.config.split.testSplits, split, description);
    const config: RunConfig = { ...input.config, split: { ...input.config.split, testSplits: testSplitNames } };
    // A site run is valid without any labelled evaluation image, so the "some test split exists"
    // rule applies to ISBI datasets only; the template rules apply to both.
    checkConfigAgainstSplits(description.kind === 'site' ? { ...config, split: { ...config.split, testSplits: Object.keys(split) } } : config, split);
    if (!description.sizes.includes(input.inputSize)) {
      throw new InvalidConfigError(
        `invalid run config:\n  - config.dataset.version: dataset ${input.datasetVersion} has working sizes [${description.sizes.join(', ')}], the profile needs ${input.inputSize}; ingest the folder again with that size (run with dataset.dir)`,
      );
    }
    const trainIds = config.split.trainIds === 'all' ? [...split.train] : [...config.split.trainIds];
    const { testSplits, missing } = labelledTestSplits(testSplitNames, split, labels);
    return {
      trainIds,
      shards: shardIds(trainIds, config.pseudoLabelShards),
      testSplits,
      missingTestSplits: missing,
      landmarkCount: labels.landmarkCount,
      landmarkNames: [...labels.landmarkNames],
      pixelSpacingMm: description.pixelSpacingMm,
    };
  };
}
