/**
 * Retrains only the TPL stage on a finished run's stored pseudo-labels (same template, dataset
 * version and seed), then scores Test1 with ml/metrics under both protocols — to study TPL
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
import { DatasetReader } from '../../activities/dataset-reader';
import { resolveProfile } from '../../ml/profiles';
import { createTplTrainer, createTplPredictor } from '../../ml/tpl';
import { evaluateLandmarks, type LandmarkEvalCase } from '../../ml/metrics';
import type { HeatLossNorm, PointYX } from '../../ml/types';

const [runId, stepsArg, cutArg, lrArg, normArg] = process.argv.slice(2);
const steps = Number(stepsArg ?? 2000);
const cut = Number(cutArg ?? 1500);
const lr = Number(lrArg ?? 3e-4);
const backend = await initBackend();
const store = createS3Store(loadStackSettings());
const text = async (key: string) => new TextDecoder().decode(await store.get(key));
const manifest = JSON.parse(await text(`runs/${runId}/manifest.json`));
const files: Array<{ key: string }> = manifest.files ?? manifest.artifacts ?? [];
const abs = (k: string) => (k.startsWith('runs/') ? k : `runs/${runId}/${k}`);
const report = JSON.parse(await text(abs(files.find((f) => /report\/report-.*\.json$/.test(f.key))!.key)));
const datasetVersion: string = manifest.meta?.datasetVersion ?? report.lineage?.datasetVersion ?? report.datasetVersion;
const templateId: string = report.config?.templateId ?? '125';
const heatLossNorm = (normArg ?? resolveProfile('cpu').tpl.heatLossNorm) as HeatLossNorm; // resolveProfile validates it
const profile = resolveProfile('cpu', { tpl: { steps, lrDecaySteps: cut < steps ? [cut] : [], lr, heatLossNorm } });
const pseudo = new Map<string, PointYX[]>();
// Every train id, the template's own pseudo-label included, as the pipeline (and the reference's
// training list of all 150 images) does; the template is also added to every batch with its truth.
for (const f of files.filter((x) => /pseudo-labels\/shard/.test(x.key))) {
  for (const [id, pts] of Object.entries(JSON.parse(await text(abs(f.key))).labels as Record<string, PointYX[]>)) pseudo.set(id, pts);
}
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
const testIds = Object.entries(labels.images).filter(([, v]) => (v as { split: string }).split === 'test1').map(([id]) => id).sort();
const predictor = createTplPredictor({ profile, weights, landmarkCount: 19 });
const cases: LandmarkEvalCase[] = [];
for (let i = 0; i < testIds.length; i += 8) {
  const ids = testIds.slice(i, i + 8);
  const pts = await predictor.predict(await reader.images(S, ids));
  ids.forEach((id, j) => {
    const img = labels.images[id]!;
    cases.push({ id, predicted: pts[j]!, truth: img.gtMeanXyPx.map(([x, y]) => [y, x] as PointYX), originalHeight: img.heightPx, originalWidth: img.widthPx, spacingMm: 0.1 });
  });
}
predictor.dispose();
const result: Record<string, unknown> = { runId, backend: backend.backend, steps: last, lr, lrCutStep: cut, heatLossNorm, trainSeconds: Math.round(trainS), testImages: cases.length };
for (const protocol of ['A', 'B'] as const) {
  const r = evaluateLandmarks(cases, { protocol, gridSize: S, spacingMm: 0.1 });
  result[protocol] = { mreMm: r.overall.mreMm, sdMm: r.overall.stdMm, sdr: Object.fromEntries(r.overall.sdr.map((e) => [e.radiusMm, e.percent])) };
}
console.log(JSON.stringify(result));
store.destroy();
void tf;
