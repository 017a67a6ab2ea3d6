/**
 * `predictImages` (GPU queue), one call per shard of a prediction request: loads the model's
 * weights once, predicts the shard's working-size images in chunks (heartbeating, cancellable)
 * exactly as evaluation does (ml/final-landmarks: TPL, the profile's post-processing with the
 * run's shape prior, then the refinement stage on the images at its input size when the model has
 * it), maps the points back to original pixels and stores the shard with each landmark's confidence.
 * The stored bytes depend only on the request and the shard, so a retry rewrites the same object.
 */
import { Context } from '@temporalio/activity';
import { PredictRequestSchema, ShapeModelDocumentSchema, type PredictShard } from '../contracts/documents';
import type { PredictImagesInput, PredictImagesOutput, StageProgress } from '../contracts/types';
import { decodeWorkingGray } from '../infra/dataset/reader';
import { mapLimit } from '../infra/dataset/concurrency';
import { UserError } from '../infra/errors';
import { shardRange } from '../infra/predict/request';
import { STAGE_CHUNK } from '../infra/evaluation/ssl-stage';
import { siteKeys } from '../infra/storage/keys';
import { readJson } from '../infra/storage/read-json';
import { gridToOriginalXy } from '../ml/metrics';
import { postprocessOf, type Profile } from '../ml/profiles';
import { createFinalLandmarkPredictor } from '../ml/final-landmarks';
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

    const { tplWeights, refineWeights, shapeModel } = request.model;
    const [weights, refine, shapeDoc] = await Promise.all([
      store.get(tplWeights.key, tplWeights.sha256),
      refineWeights ? store.get(refineWeights.key, refineWeights.sha256) : undefined,
      shapeModel ? readJson(store, shapeModel, ShapeModelDocumentSchema) : undefined,
    ]);
    const shapeOn = postprocessOf(profile).shapePrior.enabled;
    const predictor = createFinalLandmarkPredictor({
      profile, tplWeights: weights, ...(refine ? { refineWeights: refine } : {}), ...(shapeDoc ? { shapeModel: shapeDoc.model } : {}),
      landmarkCount: request.model.landmarkNames.length,
    });
    const out: PredictShard = { shardIndex, shardCount, images: [] };
    try {
      for (let i = 0; i < images.length; i += STAGE_CHUNK) {
        progress.throwIfCancelled();
        const chunk = images.slice(i, i + STAGE_CHUNK);
        const grays = await mapLimit(chunk, 4, async (img) => decodeWorkingGray(await store.get(img.working.key, img.working.sha256), size, img.working.key));
        const predicted = await predictor.predict(grays, (fine) => mapLimit(chunk, 4, async (img) => {
          if (!img.fine) throw new UserError(`predict request: image ${img.id} has no ${fine} px image for the model's refinement stage`, 'InvalidPredictInput');
          return decodeWorkingGray(await store.get(img.fine.key, img.fine.sha256), fine, img.fine.key);
        }));
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
