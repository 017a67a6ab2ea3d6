/**
 * `predictImages` (GPU queue), one call per shard of a prediction request: loads the model's TPL
 * weights once, predicts the shard's working-size images in chunks (heartbeating, cancellable),
 * post-processes them as the model's profile says (test-time augmentation, the run's shape prior),
 * maps the points back to original pixels and stores the shard with each landmark's confidence.
 * The stored bytes depend only on the request and the shard, so a retry rewrites the same object.
 */
import { Context } from '@temporalio/activity';
import { PredictRequestSchema, ShapeModelDocumentSchema, type PredictShard } from '../contracts/documents';
import type { PredictImagesInput, PredictImagesOutput, StageProgress } from '../contracts/types';
import { decodeWorkingGray } from '../infra/dataset/reader';
import { mapLimit } from '../infra/dataset/concurrency';
import { shardRange } from '../infra/predict/request';
import { STAGE_CHUNK } from '../infra/evaluation/ssl-stage';
import { siteKeys } from '../infra/storage/keys';
import { readJson } from '../infra/storage/read-json';
import { gridToOriginalXy } from '../ml/metrics';
import { predictPostprocessed } from '../ml/postprocess';
import { postprocessOf, type Profile } from '../ml/profiles';
import { createTplPredictor } from '../ml/tpl';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';
import { ProgressReporter } from './progress';

export function createPredictImages(deps: ActivityDeps) {
  return async function predictImages(input: PredictImagesInput): Promise<PredictImagesOutput> {
    const { shardIndex, shardCount } = input;
    const store = retryingStore(deps.store);
    const request = await readJson(store, input.request, PredictRequestSchema);
    const [start, end] = shardRange(request.images.length, shardIndex, shardCount);
    const images = request.images.slice(start, end);
    const profile = request.model.profile as unknown as Profile;
    const size = profile.inputSize;
    const progress = new ProgressReporter<StageProgress>(Context.current(), { stage: 'predict', step: 0, totalSteps: images.length }, deps.progress);
    progress.update({}, true);

    const [weights, shapeDoc] = await Promise.all([
      store.get(request.model.tplWeights.key, request.model.tplWeights.sha256),
      request.model.shapeModel ? readJson(store, request.model.shapeModel, ShapeModelDocumentSchema) : undefined,
    ]);
    const shapeOn = postprocessOf(profile).shapePrior.enabled;
    const predictor = createTplPredictor({ profile, weights, landmarkCount: request.model.landmarkNames.length });
    const out: PredictShard = { shardIndex, shardCount, images: [] };
    try {
      for (let i = 0; i < images.length; i += STAGE_CHUNK) {
        progress.throwIfCancelled();
        const chunk = images.slice(i, i + STAGE_CHUNK);
        const grays = await mapLimit(chunk, 4, async (img) => decodeWorkingGray(await store.get(img.working.key, img.working.sha256), size, img.working.key));
        const predicted = await predictPostprocessed((x) => predictor.predictDetailed(x), grays, profile, shapeDoc?.model);
        chunk.forEach((img, j) => {
          const p = predicted[j]!;
          out.images.push({
            id: img.id,
            yx: p.landmarks.map(([y, x]) => [y, x]),
            xyPx: p.landmarks.map((yx) => gridToOriginalXy(yx, img.heightPx, img.widthPx, size)),
            peak: p.peak,
            agreement: p.agreement,
            confidence: p.confidence,
            ...(shapeOn ? { shapeReplaced: p.replaced } : {}),
          });
        });
        progress.update({ step: Math.min(i + STAGE_CHUNK, images.length) });
      }
    } finally {
      predictor.dispose();
    }
    const bytes = new TextEncoder().encode(JSON.stringify(out));
    const key = `${siteKeys.predictions(request.site, input.request.sha256)}/shards/shard-${shardIndex + 1}-of-${shardCount}.json`;
    const shard = await store.put(key, bytes, { contentType: 'application/json' });
    return { shard, count: images.length, backend: deps.backend() };
  };
}
