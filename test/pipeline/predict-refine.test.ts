/**
 * `cc2d predict` gives the evaluated landmarks, on the REAL Temporal dev server and REAL S3: after
 * a smoke run with the shape prior and the refinement stage switched on through the run config,
 * predicting the run's own test images (the files of the dataset folder, and the run's dataset
 * version) returns exactly the points the evaluation stored (eval predictions: working-grid [y, x]
 * and original-pixel [x, y]); a run with the shape prior but no refinement stage still predicts,
 * with the same agreement.
 */
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPredict, type PredictOptions } from '../../cli/predict-client';
import { PredictRequestSchema, PredictShardSchema } from '../../contracts/documents';
import type { PredictResult } from '../../contracts/types';
import { ISBI_LANDMARK_NAMES } from '../../infra/dataset/types';
import { loadRunModel } from '../../infra/predict/model';
import { PREDICT_REQUEST_FILE } from '../../infra/predict/request';
import { createHarness, type PipelineHarness, type PipelineResult } from './support/harness';

const h = await createHarness('predict-refine', { dataset: { train: 4, test1: 3 } });
const K = ISBI_LANDMARK_NAMES.length;
const REFINE = { inputSize: 128, patch: 16, channels: 4, batch: 8, steps: 6, lrDecaySteps: [4], jitter: 4, checkpointEvery: 3 };
const SHAPE_PRIOR = { postprocess: { shapePrior: { enabled: true, replaceResidualFraction: 0.05 } } };

interface EvalPredictions { gridSize: number; predictionsYx: Record<string, number[][]>; predictionsXyPx: Record<string, number[][]> }

describe.skipIf(!h)('cc2d predict gives the evaluated landmarks', () => {
  const H = h as PipelineHarness;
  let tmp: string;
  let refined: PipelineResult;
  let plain: PipelineResult;

  beforeAll(async () => {
    await H.workers(['workflows', 'gpu', 'cpu']);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'cc2d-predict-refine-'));
    const withRefine = H.input({ overrides: { ...SHAPE_PRIOR, refine: REFINE } });
    expect(withRefine.profile.refine?.inputSize).toBe(REFINE.inputSize);
    refined = await (await H.start(withRefine, H.runId('refine'))).result();
    plain = await (await H.start(H.input({ overrides: SHAPE_PRIOR }), H.runId('plain'))).result();
  }, 900_000);
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
    await H.cleanup();
  });

  const predict = (runId: string, o: Partial<PredictOptions>) => runPredict(H.client, H.stack.settings, H.deps.store, {
    paths: [], runId, out: path.join(tmp, `${runId}-${o.datasetVersion ? 'dataset' : 'files'}`), formats: ['json'], workers: 'none', progress: false,
    spacingMm: 0.1, heartbeatTimeoutSeconds: 10, workflowTaskQueue: H.queues.workflows, taskQueues: { gpu: H.queues.gpu, cpu: H.queues.cpu }, ...o,
  });
  const testFiles = () => H.dataset.test1.map((id) => path.join(H.dataset.root, 'RawImage', 'Test1Data', `${id}.png`));
  const json = async (key: string): Promise<unknown> => JSON.parse(new TextDecoder().decode(await H.deps.store.get(key)));

  /** The request's shard points by image id. */
  async function predicted(r: PredictResult): Promise<Map<string, { yx: number[][]; xyPx: number[][] }>> {
    const keys = (await H.deps.store.list(`${r.prefix}/shards/`)).map((o) => o.key);
    expect(keys.length).toBeGreaterThan(0);
    const out = new Map<string, { yx: number[][]; xyPx: number[][] }>();
    for (const key of keys) for (const img of PredictShardSchema.parse(await json(key)).images) out.set(img.id, img);
    return out;
  }

  async function expectEvaluated(run: PipelineResult, r: PredictResult, ids: readonly string[]): Promise<void> {
    const evaluated = await json(run.artifacts.predictions.key) as EvalPredictions;
    const got = await predicted(r);
    expect([...got.keys()].sort()).toEqual([...ids].sort());
    for (const id of ids) {
      expect(got.get(id)!.yx, id).toEqual(evaluated.predictionsYx[id]);
      expect(got.get(id)!.xyPx, id).toEqual(evaluated.predictionsXyPx[id]);
    }
  }

  it('with the refinement stage: the test images give exactly the evaluated predictions', async () => {
    expect(refined.status).toBe('completed');
    const { model } = await loadRunModel(H.deps.store, refined.runId);
    expect(model.refineWeights).toEqual(refined.artifacts.refineWeights);
    expect(model.shapeModel).toBeDefined();

    const files = await predict(refined.runId, { paths: testFiles() });
    expect(files.result).toMatchObject({ images: 3, landmarks: 3 * K });
    const request = PredictRequestSchema.parse(await json(`${files.result.prefix}/${PREDICT_REQUEST_FILE}`));
    expect(request.model.refineWeights).toEqual(refined.artifacts.refineWeights);
    for (const img of request.images) expect(img.fine?.key).toMatch(/\/predictions\/inputs\//);
    await expectEvaluated(refined, files.result, H.dataset.test1);

    // The run's own dataset version: its stored working images at both sizes, every image.
    const dataset = await predict(refined.runId, { datasetVersion: refined.datasetVersion });
    await expectEvaluated(refined, dataset.result, [...H.dataset.train, ...H.dataset.test1]);
  }, 600_000);

  it('without the refinement stage: predict still works and gives the evaluated (shape-prior) predictions', async () => {
    expect(plain.status).toBe('completed');
    const { model } = await loadRunModel(H.deps.store, plain.runId);
    expect(model.refineWeights).toBeUndefined();
    const files = await predict(plain.runId, { paths: testFiles() });
    const request = PredictRequestSchema.parse(await json(`${files.result.prefix}/${PREDICT_REQUEST_FILE}`));
    expect(request.model.refineWeights).toBeUndefined();
    for (const img of request.images) expect(img.fine).toBeUndefined();
    await expectEvaluated(plain, files.result, H.dataset.test1);
  }, 600_000);
});
