/**
 * Two accuracy levers end to end. The post-processing levers on the REAL Temporal dev server and REAL S3: a smoke run
 * on the synthetic ISBI dataset with test-time augmentation and the shape prior switched on by a
 * config override stores the shape model with the run (listed in its lineage manifest), records
 * the settings in its metrics, and `cc2d predict` with that run applies the same shape model
 * (every landmark it replaced has confidence 0, so it is flagged). User-supplied backbone weights
 * (a tfjs fixture built here with the smoke shapes, stored in S3 by the client as `cc2d run
 * --backbone-weights` does) initialise both stages and are recorded in the lineage.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPredict } from '../../cli/predict-client';
import { MetricsDocumentSchema, PredictShardSchema, ShapeModelDocumentSchema } from '../../contracts/documents';
import { loadRunModel } from '../../infra/predict/model';
import { readJson } from '../../infra/storage/read-json';
import { ISBI_LANDMARK_NAMES } from '../../infra/dataset/types';
import { stageBackboneWeights } from '../../infra/config/backbone-weights';
import { decodeCheckpoint } from '../../ml/core/checkpoint';
import { vggEncoderShapes } from '../../ml/core/vgg-encoder';
import { PROFILES } from '../../ml/profiles';
import { createHarness, type PipelineHarness, type PipelineResult } from './support/harness';

const h = await createHarness('postprocess', { dataset: { train: 4, test1: 3 } });
const K = ISBI_LANDMARK_NAMES.length;
afterAll(async () => {
  await h?.cleanup();
});

describe.skipIf(!h)('TTA and shape prior in a smoke run and in predict', () => {
  const H = h as PipelineHarness;
  let result: PipelineResult;
  let runId: string;
  let tmp: string;

  beforeAll(async () => {
    await H.workers(['workflows', 'gpu', 'cpu']);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'cc2d-postprocess-'));
    runId = H.runId('pp');
    const input = H.input({ overrides: { postprocess: { tta: { enabled: true }, shapePrior: { enabled: true, replaceResidualFraction: 0.05 } } } });
    expect(input.profile.postprocess.tta.enabled).toBe(true);
    result = await (await H.start(input, runId)).result();
  }, 300_000);
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('stores the shape model with the run and the settings in its metrics', async () => {
    expect(result.status).toBe('completed');
    const { model } = await loadRunModel(H.deps.store, runId);
    expect(model.profile.postprocess.shapePrior.enabled).toBe(true);
    expect(model.shapeModel?.key).toMatch(new RegExp(`^runs/${runId}/eval/shape-model-[0-9a-f]{64}\\.json$`));
    const doc = await readJson(H.deps.store, model.shapeModel!, ShapeModelDocumentSchema);
    expect(doc.model.landmarkCount).toBe(K);
    expect(doc.model.shapesGiven).toBe(H.dataset.train.length); // the template's truth + the other pseudo-labels
    const metrics = await readJson(H.deps.store, result.artifacts.metrics, MetricsDocumentSchema) as { postprocess?: { tta: { enabled: boolean }; replacedLandmarks: number } };
    expect(metrics.postprocess?.tta.enabled).toBe(true);
    expect(metrics.postprocess?.replacedLandmarks).toBeGreaterThanOrEqual(0);
    expect(result.mreMm).toBeGreaterThan(0);
  });

  it('predict applies the run\'s shape model: replaced landmarks have confidence 0', async () => {
    const images = H.dataset.test1.map((id) => path.join(H.dataset.root, 'RawImage', 'Test1Data', `${id}.png`));
    const out = path.join(tmp, 'out');
    const { result: r } = await runPredict(H.client, H.stack.settings, H.deps.store, {
      paths: images, out, runId, formats: ['json'], workers: 'none', progress: false, spacingMm: 0.1, heartbeatTimeoutSeconds: 10,
      workflowTaskQueue: H.queues.workflows, taskQueues: { gpu: H.queues.gpu, cpu: H.queues.cpu },
    });
    expect(r).toMatchObject({ images: 3, landmarks: 3 * K });
    const shardKeys = (await H.deps.store.list(`sites/${H.site}/predictions/`)).map((o) => o.key).filter((k) => k.includes('/shards/'));
    expect(shardKeys.length).toBeGreaterThan(0);
    for (const key of shardKeys) {
      const shard = PredictShardSchema.parse(JSON.parse(new TextDecoder().decode(await H.deps.store.get(key))));
      for (const img of shard.images) {
        expect(img.shapeReplaced).toHaveLength(K);
        img.shapeReplaced!.forEach((rep, j) => { if (rep) expect(img.confidence[j]).toBe(0); });
      }
    }
    expect(JSON.parse(await readFile(path.join(out, 'predictions.json'), 'utf8')).model.runId).toBe(runId);
  });
});

describe.skipIf(!h)('user-supplied backbone weights in a smoke run', () => {
  const H = h as PipelineHarness;

  it('initialise both encoders from S3 and are recorded in the lineage', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-backbone-run-'));
    try {
      const weights = [...vggEncoderShapes(1, PROFILES.smoke.ssl.width)].map(([name, shape]) => ({ name, shape, dtype: 'float32' }));
      const n = weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
      await writeFile(path.join(dir, 'w.bin'), new Uint8Array(Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.05).buffer));
      await writeFile(path.join(dir, 'model.json'), JSON.stringify({ weightsManifest: [{ paths: ['w.bin'], weights }] }));
      const ref = await stageBackboneWeights(H.deps.store, path.join(dir, 'model.json'), PROFILES.smoke);
      const result = await (await H.start(H.input({ backboneWeights: ref }), H.runId('bb'))).result();
      expect(result.status).toBe('completed');
      expect(decodeCheckpoint(await H.deps.store.get(result.artifacts.sslWeights.key)).meta.init).toBe('user-backbone');
      const report = JSON.parse(new TextDecoder().decode(await H.deps.store.get(result.reportKey))) as { lineage: { backboneInit: string; backboneWeights?: string; config: { backboneWeights?: unknown } } };
      expect(report.lineage.backboneInit).toBe('user-supplied');
      expect(report.lineage.backboneWeights).toBe(`sha256 ${ref.sha256}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
