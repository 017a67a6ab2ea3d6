/**
 * TEST-ONLY: scores a finished pipeline run and its trivial baselines from what the run stored
 * in S3 (predictions, dataset labels), with the independent MRE of ./accuracy.ts:
 * - model: the run's stored final-model predictions;
 * - templateCopy: the template's own landmarks predicted for every test image;
 * - untrained: the TPL network of the run's profile at its seeded initialisation (no step taken);
 * - origin: (0, 0) for every landmark.
 */
import type { PipelineResult, PseudoLabelFile } from '../../../contracts/types';
import { DatasetReader } from '../../../infra/dataset/reader';
import { createTplPredictor, createTplTrainer } from '../../../ml/tpl';
import type { PointYX } from '../../../ml/types';
import type { PipelineInput } from '../../../infra/config/run-config';
import type { ObjectStore } from '../../../infra/storage/object-store';
import { meanRadialErrorMm, type GateGrid, type GateImage } from './accuracy';

export type Protocol = 'A' | 'B';
export type ProtocolMre = Record<Protocol, number>;

export interface RunScores {
  grid: GateGrid;
  testIds: string[];
  model: ProtocolMre;
  templateCopy: ProtocolMre;
  untrained: ProtocolMre;
  origin: ProtocolMre;
}

const json = async <T>(store: ObjectStore, key: string, sha256?: string): Promise<T> => JSON.parse(new TextDecoder().decode(await store.get(key, sha256))) as T;

/** `input`: the run's input (profile, template, seed); `trainIds`: the images TPL trained on. */
export async function scoreRun(store: ObjectStore, run: PipelineResult, input: PipelineInput, trainIds: string[]): Promise<RunScores> {
  const stored = await json<{ gridSize: number; predictionsYx: Record<string, PointYX[]>; truthYx: Record<string, PointYX[]> }>(store, run.artifacts.predictions.key, run.artifacts.predictions.sha256);
  const reader = new DatasetReader(store, run.datasetVersion);
  const [labels, description] = await Promise.all([reader.labels(), reader.description()]);
  const grid: GateGrid = { gridSize: stored.gridSize, spacingMm: description.pixelSpacingMm! };
  // Every image is predicted; the scored (labelled evaluation) ones are those with truth.
  const testIds = Object.keys(stored.truthYx).sort();
  const score = (predict: (id: string) => ReadonlyArray<readonly [number, number]>): ProtocolMre => {
    const images: GateImage[] = testIds.map((id) => {
      const l = labels.images[id]!;
      return { predictedYx: predict(id), truthMeanXy: l.gtMeanXyPx!, heightPx: l.heightPx, widthPx: l.widthPx };
    });
    return { A: meanRadialErrorMm(images, 'A', grid), B: meanRadialErrorMm(images, 'B', grid) };
  };

  const { profile, config } = input;
  const templateYx = labels.images[config.templateId]!.workingYx![String(profile.inputSize)]!.map(([y, x]) => [y, x] as PointYX);
  const untrainedYx = await untrainedPredictions(store, run, reader, {
    input, trainIds, templateYx, testIds, landmarkCount: labels.landmarkCount,
  });
  return {
    grid,
    testIds,
    model: score((id) => stored.predictionsYx[id]!),
    templateCopy: score(() => templateYx),
    untrained: score((id) => untrainedYx.get(id)!),
    origin: score(() => templateYx.map(() => [0, 0] as const)),
  };
}

async function untrainedPredictions(
  store: ObjectStore,
  run: PipelineResult,
  reader: DatasetReader,
  o: { input: PipelineInput; trainIds: string[]; templateYx: PointYX[]; testIds: string[]; landmarkCount: number },
): Promise<Map<string, PointYX[]>> {
  const { profile, config } = o.input;
  const size = profile.inputSize;
  const pseudo: Record<string, PointYX[]> = {};
  for (const ref of run.artifacts.pseudoLabels) Object.assign(pseudo, (await json<PseudoLabelFile>(store, ref.key, ref.sha256)).labels);
  const ids = o.trainIds.filter((id) => id !== config.templateId && pseudo[id]);
  const [template] = await reader.images(size, [config.templateId]);
  const trainer = await createTplTrainer({
    profile, images: await reader.images(size, ids), pseudoLabels: ids.map((id) => pseudo[id]!),
    template: template!, templateLandmarks: o.templateYx, seed: config.seed,
  });
  let weights: Uint8Array;
  try {
    weights = await trainer.exportWeights();
  } finally {
    trainer.dispose();
  }
  const predictor = createTplPredictor({ profile, weights, landmarkCount: o.landmarkCount });
  try {
    const points = await predictor.predict(await reader.images(size, o.testIds));
    return new Map(o.testIds.map((id, i) => [id, points[i]!]));
  } finally {
    predictor.dispose();
  }
}
