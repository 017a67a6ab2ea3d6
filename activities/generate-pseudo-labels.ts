/**
 * `generatePseudoLabels` (GPU queue), one call per shard: matches the template's landmarks into
 * the shard's training images with the SSL embeddings (docs/method.md#matching) and stores
 * {id → [y, x] per landmark} as content-addressed JSON. Shards of one run can run on different
 * workers; their union equals an unsharded run (matching is per image).
 */
import { Context } from '@temporalio/activity';
import type { GeneratePseudoLabelsInput, PseudoLabelFile, PseudoLabelShard, StageProgress } from '../contracts/types';
import { DatasetReader } from '../infra/dataset/reader';
import { sha256Hex } from '../infra/storage/hash';
import { runKeys } from '../infra/storage/keys';
import { matchTemplate } from '../ml/ssl';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';
import { ProgressReporter } from './progress';

export function createGeneratePseudoLabels(deps: ActivityDeps) {
  return async function generatePseudoLabels(input: GeneratePseudoLabelsInput): Promise<PseudoLabelShard> {
    const { profile, ids, templateId, runId, shardIndex, shardCount } = input;
    const ctx = Context.current();
    const progress = new ProgressReporter<StageProgress>(ctx, { stage: 'pseudo-labels', step: 0, totalSteps: ids.length }, deps.progress);
    progress.update({}, true);
    const store = retryingStore(deps.store);
    const reader = new DatasetReader(store, input.datasetVersion);
    const [weights, { template, templateLandmarks }, images] = await Promise.all([
      store.get(input.sslWeights.key, input.sslWeights.sha256),
      reader.template(templateId, profile.inputSize),
      reader.images(profile.inputSize, ids),
    ]);
    progress.throwIfCancelled();
    const points = await matchTemplate({
      profile, weights, template, templateLandmarks, images,
      onProgress: (done) => progress.update({ step: done }),
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
