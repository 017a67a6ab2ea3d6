/**
 * One round of self-training measured on a finished run, on the TRAINING images only (their own
 * labels are the validation set; the test splits are never read). Not part of the pipeline.
 *   npx tsx bench/profiling/self-train-on-run.ts <runId> [profile=quick] [minConfidence=0]
 * Round 0 = the run's pseudo-labels (SSL matching) and its TPL model. Round 1 relabels every
 * training image with the run's TPL model (a landmark whose confidence is below minConfidence
 * keeps its round-0 pseudo-label), trains TPL again from scratch on those labels with the
 * profile's TPL settings and the same seed, and predicts the training images again. Prints the
 * error of each label set and model against the training images' ground truth, one JSON line last.
 */
import { initBackend } from '../../infra/tf-backend';
import { loadStackSettings } from '../../infra/config/stack';
import { createS3Store } from '../../infra/storage/s3-store';
import { DatasetReader } from '../../infra/dataset/reader';
import { scoreTestPredictions } from '../../ml/metrics';
import { runSslSource } from '../../cli/ssl-stage';
import { loadRunArtifacts } from './run-artifacts';
import { resolveProfile } from '../../ml/profiles';
import { createTplTrainer, createTplPredictor } from '../../ml/tpl';
import type { GrayImage, PointYX } from '../../ml/types';

const [runId, profileArg, minConfArg] = process.argv.slice(2);
if (!runId) throw new Error('usage: self-train-on-run.ts <runId> [profile=quick] [minConfidence=0]');
const minConfidence = Number(minConfArg ?? 0);
await initBackend();
const store = createS3Store(loadStackSettings());
const { datasetVersion, templateId } = await runSslSource(store, runId);
const { keys, pseudoLabels: round0 } = await loadRunArtifacts(store, runId);
const tplWeightsKey = keys.find((k) => /tpl\/weights-/.test(k))!;
const profile = resolveProfile(profileArg ?? 'quick');
const S = profile.inputSize;
const reader = new DatasetReader(store, datasetVersion);
const labels = await reader.labels();
const { template, templateLandmarks } = await reader.template(templateId, S);
const trainIds = [...round0.keys()].sort();
const images = await reader.images(S, trainIds);
const K = templateLandmarks.length;
// Validation = every training image with ground truth except the template.
const validation = { train: trainIds.filter((id) => id !== templateId && labels.images[id] !== undefined) };

function score(predicted: ReadonlyMap<string, PointYX[]>) {
  const s = scoreTestPredictions({ labels, predicted, testSplits: validation, gridSize: S });
  const out: Record<string, unknown> = {};
  for (const protocol of ['A', 'B'] as const) {
    const summary = s.summary[protocol]!.train!;
    out[protocol] = { ...summary, outliersOver10: (summary.outlierPercent ?? Number.NaN) / 100 };
  }
  return out;
}

async function predictAll(weights: Uint8Array, imgs: readonly GrayImage[]) {
  const predictor = createTplPredictor({ profile, weights, landmarkCount: K });
  try {
    return await predictor.predictDetailed(imgs);
  } finally {
    predictor.dispose();
  }
}

async function trainTpl(pseudo: ReadonlyMap<string, PointYX[]>): Promise<{ weights: Uint8Array; seconds: number }> {
  const t0 = performance.now();
  const trainer = await createTplTrainer({ profile, images, pseudoLabels: trainIds.map((id) => pseudo.get(id)!), template, templateLandmarks, seed: 2022 });
  await trainer.train(profile.tpl.steps, (p) => {
    if (p.step % 100 === 0) console.error(`tpl step ${p.step}/${profile.tpl.steps} loss ${p.loss.toFixed(4)} ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  });
  const weights = await trainer.exportWeights();
  trainer.dispose();
  return { weights, seconds: Math.round((performance.now() - t0) / 1000) };
}

const model0 = await predictAll(await store.get(tplWeightsKey), images);
const pred0 = new Map(trainIds.map((id, i) => [id, model0[i]!.landmarks]));
let kept = 0;
const round1 = new Map(trainIds.map((id, i) => {
  if (id === templateId) return [id, round0.get(id)!];
  const r = model0[i]!;
  return [id, r.landmarks.map((p, k) => {
    if (r.confidence[k]! >= minConfidence) return p;
    kept++;
    return round0.get(id)![k]!;
  })];
}));
const trained = await trainTpl(round1);
const model1 = await predictAll(trained.weights, images);
const pred1 = new Map(trainIds.map((id, i) => [id, model1[i]!.landmarks]));
const os = await import('node:os');
console.log(JSON.stringify({
  runId, profile: profile.name, minConfidence, keptRound0Points: kept, validationImages: validation.train.length,
  cpuModel: os.cpus()[0]?.model, loadavg: os.loadavg().map((v) => v.toFixed(1)).join(' '), date: new Date().toISOString(),
  round0PseudoLabels: score(round0), round0Model: score(pred0), round1Labels: score(round1), round1Model: score(pred1), round1TrainSeconds: trained.seconds,
}));
store.destroy();
