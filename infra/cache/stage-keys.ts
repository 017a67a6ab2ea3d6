/**
 * Cross-run stage cache keys: a cacheable stage (SSL, the whole pseudo-label set, TPL) is reused
 * from an earlier published run when its key matches. The key is the sha256 of exactly what the
 * stage reads: its data, the config and profile fields listed here, the sha256 of its upstream
 * artifacts and the stage's code version. A field not listed cannot change the stage's output, so
 * changing it keeps the key (e.g. a new TPL lr reuses SSL and the pseudo-labels).
 *
 * The data: SSL is self-supervised and reads only the training images at profile.inputSize, so
 * its key hashes their content (`trainImagesDigest`, from the dataset version's manifest), not the
 * dataset version: labelling an image (a new version, same images) reuses SSL, e.g. the weights
 * `cc2d site suggest-template` trained before the template was labelled. Pseudo-labels and TPL
 * read labels (the template's landmarks), so their keys hash the dataset version.
 *
 * Every profile field is either READ or UNREAD below (the unit test fails when a new field is in
 * neither list), so adding a hyper-parameter forces a decision about the cache.
 *
 * Stage code versions are constants, bumped BY HAND whenever a change alters what a stage
 * computes from the same inputs (its ml/ numerics, how its activity prepares inputs, the stored
 * artifact's format). Not a hash of the sources: the code runs through tsx without a build step
 * that could list each stage's transitive sources reliably, and a source hash would also
 * invalidate the cache on every comment or refactor.
 */
import type { CacheStage } from '../../contracts/types';
import type { Profile, SslProfile, TplProfile } from '../../ml/profiles';
import { DATASET_FILES } from '../dataset/published';
import { DatasetInvalidError } from '../errors';
import { sha256OfJson } from '../storage/hash';

export type { CacheStage };
export const CACHE_STAGES: readonly CacheStage[] = ['ssl', 'pseudo-labels', 'tpl'];

/**
 * Bump a stage's number by hand when its numerics change (see above). tpl 2: the offset head's
 * rows padded to a fixed count (ml/tpl/codec.ts), which moves the weights by float rounding.
 */
export const STAGE_CODE_VERSIONS: Readonly<Record<CacheStage, number>> = { ssl: 1, 'pseudo-labels': 2, tpl: 2 };

/** SSL training reads every SSL hyper-parameter except the checkpoint interval (resuming is bit-identical). */
export const SSL_FIELDS_READ = [
  'width', 'embedDim', 'useRfb', 'batchSize', 'steps', 'lr', 'lrStepEvery', 'lrGamma', 'weightDecay',
  'temperature', 'window', 'distanceBias', 'rotationDeg', 'brightness', 'contrast',
] as const satisfies ReadonlyArray<keyof SslProfile>;
export const SSL_FIELDS_UNREAD = ['checkpointEvery', 'prototypeRounds', 'prototypeFromLevel'] as const satisfies ReadonlyArray<keyof SslProfile>;

/**
 * Matching loads the SSL network (only its shape fields matter, the training ones are in the
 * weights' hash) and builds the prototypes (rounds, levels; their pool is the plan's trainIds).
 */
export const MATCHING_SSL_FIELDS_READ = ['width', 'embedDim', 'useRfb', 'prototypeRounds', 'prototypeFromLevel'] as const satisfies ReadonlyArray<keyof SslProfile>;

/** `maxRoundTrip`: null and absent both mean no filter and give one key; with a limit the key also reads the SSL weights (the round trips are matched with them). */
export const TPL_FIELDS_READ = [
  'width', 'batchPseudo', 'steps', 'lr', 'lrDecaySteps', 'lrGamma', 'weightDecay', 'radiusFraction', 'heatLossWeight', 'heatLossNorm', 'maxRoundTrip',
] as const satisfies ReadonlyArray<keyof TplProfile>;
export const TPL_FIELDS_UNREAD = ['checkpointEvery'] as const satisfies ReadonlyArray<keyof TplProfile>;

/**
 * `profile.postprocess` (test-time augmentation, shape prior) is read by the evaluate stage and by
 * predict only; neither is cached, and the shape model is rebuilt by every evaluation, so no stage
 * key includes it (switching it on reuses SSL, pseudo-labels and TPL).
 */

/** Everything a stage key may be built from; each stage picks its part. */
export interface StageKeyInput {
  datasetVersion: string;
  profile: Profile;
  seed: number;
  /** The plan's training ids, in order (the template among them). */
  trainIds: readonly string[];
  templateId: string;
  /** Pseudo-label shards: the stored artifacts are one file per shard. */
  shardCount: number;
  /** What SSL reads of the dataset (`trainImagesDigest`); required by the SSL key. */
  trainImagesSha256?: string;
  /** Upstream of the pseudo-labels, and of TPL with `tpl.maxRoundTrip`. */
  sslWeightsSha256?: string;
  /** Upstream of TPL, in shard order. */
  pseudoLabelSha256s?: readonly string[];
  /** User-supplied encoder weights of SSL and TPL; absent (from scratch) leaves the keys as they were. */
  backboneWeightsSha256?: string;
}

function pick<T extends object, K extends keyof T>(obj: T, fields: readonly K[]): Pick<T, K> {
  return Object.fromEntries(fields.map((f) => [f, obj[f]])) as Pick<T, K>;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`stage cache key: ${what} is required`);
  return value;
}

/**
 * The content of the training images SSL reads: sha256 of the sorted (id, sha256) pairs of their
 * S×S working PNGs, taken from the dataset version's manifest (`files`, keys relative to the
 * version prefix). Every id must be listed: SSL could not train on a missing image either.
 */
export function trainImagesDigest(files: ReadonlyArray<{ key: string; sha256: string }>, inputSize: number, trainIds: readonly string[]): string {
  const byKey = new Map(files.map((f) => [f.key, f.sha256]));
  const pairs = [...new Set(trainIds)].sort().map((id) => {
    const sha256 = byKey.get(DATASET_FILES.image(inputSize, id));
    if (sha256 === undefined) throw new DatasetInvalidError([`stage cache key: the dataset version lists no ${inputSize}px working image of "${id}"`]);
    return [id, sha256];
  });
  return sha256OfJson(pairs);
}

/** The exact fields a stage's key hashes (also what the cache entry records, for inspection). */
export function stageKeyFields(stage: CacheStage, input: StageKeyInput, codeVersions: Readonly<Record<CacheStage, number>> = STAGE_CODE_VERSIONS): Record<string, unknown> {
  const { datasetVersion, profile } = input;
  // trainIds stay in every key: their order is the order SSL and TPL see the images in.
  const common = { stage, codeVersion: codeVersions[stage], inputSize: profile.inputSize, trainIds: [...input.trainIds] };
  const base = { ...common, datasetVersion };
  const backbone = input.backboneWeightsSha256 !== undefined ? { backboneWeights: input.backboneWeightsSha256 } : {};
  switch (stage) {
    case 'ssl':
      return {
        ...common, trainImages: required(input.trainImagesSha256, 'the training images digest'), seed: input.seed,
        ssl: pick(profile.ssl, SSL_FIELDS_READ), ...backbone,
      };
    case 'pseudo-labels':
      return {
        ...base, templateId: input.templateId, shardCount: input.shardCount, ssl: pick(profile.ssl, MATCHING_SSL_FIELDS_READ),
        sslWeights: required(input.sslWeightsSha256, 'the SSL weights hash'),
      };
    case 'tpl': {
      const maxRoundTrip = profile.tpl.maxRoundTrip ?? undefined;
      return {
        ...base, templateId: input.templateId, seed: input.seed, tpl: { ...pick(profile.tpl, TPL_FIELDS_READ), maxRoundTrip },
        pseudoLabels: [...required(input.pseudoLabelSha256s, 'the pseudo-label hashes')], ...backbone,
        ...(maxRoundTrip !== undefined ? { sslWeights: required(input.sslWeightsSha256, 'the SSL weights hash') } : {}),
      };
    }
  }
}

/** The cache key of a stage: sha256 of `stageKeyFields`. */
export function stageCacheKey(stage: CacheStage, input: StageKeyInput, codeVersions?: Readonly<Record<CacheStage, number>>): string {
  return sha256OfJson(stageKeyFields(stage, input, codeVersions));
}
