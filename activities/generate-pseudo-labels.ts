/**
 * `generatePseudoLabels` (GPU queue), one call per shard: matches the template's landmarks into
 * the shard's training images with the SSL embeddings (docs/method.md#matching) and stores
 * {id → [y, x] per landmark} as content-addressed JSON. Shards of one run can run on different
 * workers; their union equals an unsharded run (matching is per image; with prototype rounds,
 * every shard builds the same prototypes from all the run's training images first).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { GeneratePseudoLabelsInput, PseudoLabelFile, PseudoLabelShard, StageProgress } from '../contracts/types';
import { DatasetReader } from '../infra/dataset/reader';
import { sha256Hex } from '../infra/storage/hash';
import { runKeys } from '../infra/storage/keys';
import { matchTemplate, prototypePoolIds, prototypeSettingsOf } from '../ml/ssl';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';
import { ProgressReporter } from './progress';

export function createGeneratePseudoLabels(deps: ActivityDeps) {
  return async function generatePseudoLabels(input: GeneratePseudoLabelsInput): Promise<PseudoLabelShard> {
    const { profile, ids, templateId, runId, shardIndex, shardCount } = input;
    const ctx = Context.current();
    const { rounds } = prototypeSettingsOf(profile.ssl);
    if (rounds > 0 && input.trainIds === undefined) {
      throw ApplicationFailure.nonRetryable(`generatePseudoLabels: profile.ssl.prototypeRounds is ${rounds} but the input has no trainIds (the prototypes' pool)`, 'InvalidInput');
    }
    const poolIds = rounds > 0 ? prototypePoolIds(input.trainIds!, templateId) : [];
    // Steps: every pool image of every prototype round, then the shard's own images.
    const poolSteps = rounds * poolIds.length;
    const progress = new ProgressReporter<StageProgress>(ctx, { stage: 'pseudo-labels', step: 0, totalSteps: poolSteps + ids.length }, deps.progress);
    progress.update({}, true);
    const store = retryingStore(deps.store);
    const reader = new DatasetReader(store, input.datasetVersion);
    // The shard's images are in the pool (all but the template): read each image once.
    const inPool = new Set(poolIds);
    const rest = ids.filter((id) => !inPool.has(id));
    const [weights, { template, templateLandmarks }, pool, restImages] = await Promise.all([
      store.get(input.sslWeights.key, input.sslWeights.sha256),
      reader.template(templateId, profile.inputSize),
      reader.images(profile.inputSize, poolIds),
      reader.images(profile.inputSize, rest),
    ]);
    const byId = new Map([...poolIds.map((id, i) => [id, pool[i]!] as const), ...rest.map((id, i) => [id, restImages[i]!] as const)]);
    const images = ids.map((id) => byId.get(id)!);
    progress.throwIfCancelled();
    const points = await matchTemplate({
      profile, weights, template, templateLandmarks, images, pool,
      onProgress: (done) => progress.update({ step: poolSteps + done }),
      onPoolChunk: (done) => {
        progress.throwIfCancelled();
        progress.update({ step: done });
      },
    });
    progress.throwIfCancelled();
    deps.beforeShardPublish?.({ shardIndex, attempt: ctx.info.attempt });
    const file: PseudoLabelFile = {
      inputSize: profile.inputSize,
      templateId,
      labels: Object.fromEntries(ids.map((id, i) => [id, points[i]!.map(([y, x]) => [y, x] as [number, number])])),
    };
    const bytes = new TextEncoder().encode(JSON.stringify(file));
    const key = runKeys.pseudoLabels(runId, shardIndex, shardCount, sha256Hex(bytes));
    const labels = await store.put(key, bytes, { contentType: 'application/json' });
    return { shardIndex, shardCount, labels, count: ids.length, backend: deps.backend() };
  };
}
