/**
 * Retrains only the TPL stage on a finished run's stored pseudo-labels (same template, dataset
 * version and seed), then scores the run's test splits under both protocols — to study TPL
 * settings without repeating the SSL stage. Not part of the pipeline; prints one JSON line last.
 * With the run's own TPL settings it reproduces the pipeline's TPL stage and evaluation from the
 * ml/ core directly (same data, order and seed), which is how the README checks that the
 * pipeline's numbers agree with the ml-level ones.
 *   npx tsx bench/profiling/tpl-on-run.ts <runId> [steps=2000] [lrCutStep=1500] [lr=3e-4] [heatLossNorm=profile's]
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../infra/tf-backend';
import { loadStackSettings } from '../../infra/config/stack';
import { createS3Store } from '../../infra/storage/s3-store';
import { DatasetReader } from '../../infra/dataset/reader';
import { scoreTestPredictions, testIdsOf } from '../../ml/metrics';
import { STAGE_CHUNK } from '../../infra/evaluation/ssl-stage';
import { runSslSource } from '../../cli/ssl-stage';
import { resolveProfile } from '../../ml/profiles';
import { createTplTrainer, createTplPredictor } from '../../ml/tpl';
import type { HeatLossNorm, PointYX } from '../../ml/types';
import { loadRunArtifacts } from './run-artifacts';

const [runId, stepsArg, cutArg, lrArg, normArg] = process.argv.slice(2);
const steps = Number(stepsArg ?? 2000);
const cut = Number(cutArg ?? 1500);
const lr = Number(lrArg ?? 3e-4);
const backend = await initBackend();
const store = createS3Store(loadStackSettings());
// The run's dataset version, template and test splits, as `cc2d eval --compute-ssl` reads them.
const { datasetVersion, templateId, testSplits } = await runSslSource(store, runId!);
const heatLossNorm = (normArg ?? resolveProfile('cpu').tpl.heatLossNorm) as HeatLossNorm; // resolveProfile validates it
const profile = resolveProfile('cpu', { tpl: { steps, lrDecaySteps: cut < steps ? [cut] : [], lr, heatLossNorm } });
// Every train id, the template's own pseudo-label included, as the pipeline (and the reference's
// training list of all 150 images) does; the template is also added to every batch with its truth.
const { pseudoLabels: pseudo } = await loadRunArtifacts(store, runId!);
const reader = new DatasetReader(store, datasetVersion);
const labels = await reader.labels();
const S = profile.inputSize;
const { template, templateLandmarks } = await reader.template(templateId, S);
const trainIds = [...pseudo.keys()].sort();
const images = await reader.images(S, trainIds);
const t0 = performance.now();
const trainer = await createTplTrainer({ profile, images, pseudoLabels: trainIds.map((id) => pseudo.get(id)!), template, templateLandmarks, seed: 2022 });
let last = 0;
await trainer.train(steps, (p) => {
  if (p.step % 100 === 0 || p.step === steps) {
    console.error(`step ${p.step}/${steps} loss ${p.loss.toFixed(4)} ${JSON.stringify(Object.fromEntries(Object.entries(p.parts).map(([k, v]) => [k, Number(v.toFixed(4))])))} ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  last = p.step;
});
const trainS = (performance.now() - t0) / 1000;
const weights = await trainer.exportWeights();
trainer.dispose();
// Predicted and scored as the evaluate stage does (ml/metrics scoreTestPredictions).
const testIds = testIdsOf(testSplits);
const predictor = createTplPredictor({ profile, weights, landmarkCount: templateLandmarks.length });
const predicted = new Map<string, PointYX[]>();
for (let i = 0; i < testIds.length; i += STAGE_CHUNK) {
  const ids = testIds.slice(i, i + STAGE_CHUNK);
  const pts = await predictor.predict(await reader.images(S, ids));
  ids.forEach((id, j) => predicted.set(id, pts[j]!));
}
predictor.dispose();
const scores = scoreTestPredictions({ labels, predicted, testSplits, gridSize: S });
const result: Record<string, unknown> = { runId, backend: backend.backend, steps: last, lr, lrCutStep: cut, heatLossNorm, trainSeconds: Math.round(trainS), testSet: scores.headlineSet, testImages: testIds.length };
for (const protocol of ['A', 'B'] as const) result[protocol] = scores.summary[protocol]![scores.headlineSet];
console.log(JSON.stringify(result));
store.destroy();
void tf;
