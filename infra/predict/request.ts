/**
 * Prediction requests, the parts shared by the CLI and the activities: how a request's images
 * are split into shards, and how the request plus its shards become the exported set
 * (infra/exports). Pure functions.
 */
import type { PredictRequest, PredictShard } from '../../contracts/documents';
import type { PredictionSet } from '../exports/predictions';

export const PREDICT_REQUEST_FILE = 'request.json';
/** Images per GPU activity for large requests; below it, one shard. */
export const DEFAULT_IMAGES_PER_SHARD = 64;
export const MAX_SHARDS = 16;

export function shardCountFor(images: number, perShard = DEFAULT_IMAGES_PER_SHARD, maxShards = MAX_SHARDS): number {
  return Math.max(1, Math.min(maxShards, Math.ceil(images / perShard)));
}

/** [start, end) of shard `index` of `count` over `n` images: contiguous, sizes differ by at most one. */
export function shardRange(n: number, index: number, count: number): [number, number] {
  if (!(Number.isInteger(count) && count >= 1 && Number.isInteger(index) && index >= 0 && index < count)) {
    throw new Error(`shardRange: shard ${index} of ${count} is not a shard`);
  }
  const base = Math.floor(n / count);
  const extra = n % count;
  const start = index * base + Math.min(index, extra);
  return [start, start + base + (index < extra ? 1 : 0)];
}

/** The request's predictions in request order, checked complete (every image exactly once). */
export function buildPredictionSet(request: PredictRequest, requestSha256: string, shards: readonly PredictShard[]): PredictionSet {
  const byId = new Map<string, PredictShard['images'][number]>();
  for (const s of shards) for (const img of s.images) byId.set(img.id, img);
  const names = request.model.landmarkNames;
  const images = request.images.map((img) => {
    const p = byId.get(img.id);
    if (!p) throw new Error(`prediction shards miss image ${img.id}`);
    if (p.xyPx.length !== names.length || p.confidence.length !== names.length) {
      throw new Error(`image ${img.id}: ${p.xyPx.length} points for ${names.length} landmarks`);
    }
    return {
      image: img.id, widthPx: img.widthPx, heightPx: img.heightPx, spacingMm: img.spacingMm,
      landmarks: names.map((name, k) => ({ name, xPx: p.xyPx[k]![0], yPx: p.xyPx[k]![1], confidence: p.confidence[k]! })),
    };
  });
  const m = request.model;
  return {
    requestSha256,
    model: { runId: m.runId, site: m.site, tplWeightsSha256: m.tplWeights.sha256, profile: m.profile.name, datasetVersion: m.datasetVersion, codeVersion: m.codeVersion },
    ...(request.inputDatasetVersion !== undefined ? { inputDatasetVersion: request.inputDatasetVersion } : {}),
    flagBelow: request.flagBelow,
    landmarkNames: names,
    images,
  };
}
