/**
 * `publishPredictions` (CPU queue): turns a request's shards into its exports (infra/exports:
 * CSV, JSON, one Slicer markups file per image) and publishes them with the request and the
 * shards under `sites/<site>/predictions/<request sha>/`, the manifest last: until it exists,
 * nothing of the request counts as written. An identical request published before is returned
 * as it is (publishWithManifest finds the same manifest).
 */
import { PredictRequestSchema, PredictShardSchema } from '../contracts/documents';
import type { PredictResult, PublishPredictionsInput } from '../contracts/types';
import { exportFiles, isFlagged } from '../infra/exports/predictions';
import { buildPredictionSet, PREDICT_REQUEST_FILE } from '../infra/predict/request';
import { siteKeys } from '../infra/storage/keys';
import { publishWithManifest, type PublishFile } from '../infra/storage/manifest';
import { parseJson } from '../infra/storage/read-json';
import type { ActivityDeps } from './deps';
import { retryingStore } from './failures';

export function createPublishPredictions(deps: ActivityDeps) {
  return async function publishPredictions(input: PublishPredictionsInput): Promise<PredictResult> {
    const store = retryingStore(deps.store);
    const requestSha256 = input.request.sha256;
    const [requestBytes, ...shardBytes] = await Promise.all([input.request, ...input.shards].map((r) => store.get(r.key, r.sha256)));
    const request = parseJson(input.request.key, requestBytes!, PredictRequestSchema);
    const shards = input.shards.map((r, i) => parseJson(r.key, shardBytes[i]!, PredictShardSchema));
    const set = buildPredictionSet(request, requestSha256, shards);
    const prefix = siteKeys.predictions(request.site, requestSha256);
    const enc = new TextEncoder();
    const files: PublishFile[] = [
      { relKey: PREDICT_REQUEST_FILE, bytes: requestBytes!, contentType: 'application/json' },
      ...input.shards.map((r, i) => ({ relKey: r.key.slice(prefix.length + 1), bytes: shardBytes[i]!, contentType: 'application/json' })),
      ...exportFiles(set).map((f) => ({ relKey: f.relPath, bytes: enc.encode(f.text), contentType: f.format === 'csv' ? 'text/csv' : 'application/json' })),
    ];
    const landmarks = set.images.reduce((n, img) => n + img.landmarks.length, 0);
    const flagged = set.images.reduce((n, img) => n + img.landmarks.filter((p) => isFlagged(p.confidence, set.flagBelow)).length, 0);
    const published = await publishWithManifest(store, prefix, files, {
      kind: 'cc2d-predictions', site: request.site, runId: request.model.runId, requestSha256, images: set.images.length, landmarks, flagged,
    });
    return { requestSha256, prefix, manifestKey: published.manifestKey, images: set.images.length, landmarks, flagged, alreadyPublished: published.alreadyPublished };
  };
}
