/**
 * Validation of the TPL post-processing levers on a finished run: test-time augmentation
 * (ml/postprocess/tta.ts) and the statistical shape prior (ml/postprocess/shape-model.ts).
 * Scores the run's TPL model on the TRAINING images that have ground truth (the template
 * excluded) against their true labels, protocol A: plain / TTA / shape prior / both, with the
 * inference time per image. The run's test splits are never predicted here.
 * Caveat: the TPL net was trained on these images' pseudo-labels (never on their true labels),
 * and the shape model is built from the same pseudo-labels, as the pipeline would build it; the
 * cross-fitted rows build it without the scored images' own pseudo-labels.
 *   npx tsx bench/profiling/tta-on-run.ts <runId> [maxImages]
 * Prints one line per variant and one JSON line last.
 */
import { initBackend } from '../../infra/tf-backend';
import { loadStackSettings } from '../../infra/config/stack';
import { createS3Store } from '../../infra/storage/s3-store';
import { DatasetReader } from '../../infra/dataset/reader';
import { evalCase, evaluateLandmarks, testIdsOf } from '../../ml/metrics';
import { runSslSource } from '../../cli/ssl-stage';
import { createTplPredictor, diskRadius, type PredictedLandmarks } from '../../ml/tpl';
import { buildShapeModel, fitShapeModel, predictWithTta, type TtaSettings } from '../../ml/postprocess';
import type { PointYX } from '../../ml/types';
import { loadRunArtifacts } from './run-artifacts';

const [runId, maxArg] = process.argv.slice(2);
if (!runId) throw new Error('usage: tta-on-run.ts <runId> [maxImages]');
const backend = await initBackend();
const store = createS3Store(loadStackSettings());
const { datasetVersion, templateId, testSplits, profile } = await runSslSource(store, runId);
const { keys, pseudoLabels: pseudo } = await loadRunArtifacts(store, runId);
const tplKey = keys.find((k) => /tpl\/weights-/.test(k));
if (!tplKey) throw new Error(`${runId}: no TPL weights in the manifest`);
const reader = new DatasetReader(store, datasetVersion);
const labels = await reader.labels();
const S = profile.inputSize;
const { templateLandmarks } = await reader.template(templateId, S);
const k = templateLandmarks.length;
const testIds = new Set(testIdsOf(testSplits));
// Validation set: labelled training images (they have pseudo-labels), never a test image, never the template.
const valIds = [...pseudo.keys()].filter((id) => id !== templateId && labels.images[id]?.labelled && !testIds.has(id)).sort()
  .slice(0, maxArg ? Number(maxArg) : undefined);
if (valIds.some((id) => testIds.has(id))) throw new Error('a test image in the validation set');
const images = await reader.images(S, valIds);
const weights = await store.get(tplKey);
const radius = diskRadius(S, profile.tpl.radiusFraction);
const predictor = createTplPredictor({ profile, weights, landmarkCount: k });

const timed = async <T>(f: () => Promise<T> | T): Promise<[T, number]> => {
  const t0 = performance.now();
  const v = await f();
  return [v, (performance.now() - t0) / 1000];
};
const unit = 'mm' as const;
const score = (pts: PointYX[][]) => {
  const rep = evaluateLandmarks(valIds.map((id, i) => evalCase(labels, id, pts[i]!, unit)), { protocol: 'A', gridSize: S });
  const sdr = Object.fromEntries(rep.overall.sdr.map((e) => [String(e.radiusMm), Number(e.percent.toFixed(2))]));
  return { mreMm: Number(rep.overall.mreMm.toFixed(3)), sdMm: Number(rep.overall.stdMm.toFixed(3)), sdr2: sdr['2'], sdr4: sdr['4'], outlierPct: Number(rep.overall.outlierPercent.toFixed(2)) };
};
const rows: Record<string, unknown>[] = [];
const report = (name: string, pts: PointYX[][], seconds: number, extra: Record<string, unknown> = {}) => {
  const row = { variant: name, ...score(pts), msPerImage: Number(((1000 * seconds) / valIds.length).toFixed(1)), ...extra };
  rows.push(row);
  console.error(JSON.stringify(row));
};

const [plain, tPlain] = await timed(() => predictor.predictDetailed(images));
report('plain', plain.map((p) => p.landmarks), tPlain);

const ttaSets: Record<string, TtaSettings> = {
  'tta-s': { scales: [0.9, 1.1], shifts: [], rotationsDeg: [] },
  'tta-r': { scales: [], shifts: [], rotationsDeg: [-4, 4] },
  'tta-t': { scales: [], shifts: [3], rotationsDeg: [] },
  'tta-all': { scales: [0.9, 1.1], shifts: [3], rotationsDeg: [-4, 4] },
};
const tta: Record<string, PredictedLandmarks[]> = {};
const ttaSeconds: Record<string, number> = {};
for (const [name, settings] of Object.entries(ttaSets)) {
  const [res, t] = await timed(() => predictWithTta((imgs) => predictor.predictDetailed(imgs), images, settings, radius));
  tta[name] = res;
  ttaSeconds[name] = t;
  report(name, res.map((p) => p.landmarks), t);
}
predictor.dispose();

// Shape model from the template (true labels) and every training image's pseudo-label.
const shapes = [templateLandmarks, ...[...pseudo].filter(([id]) => id !== templateId).map(([, p]) => p)];
for (const trimFraction of [0.1]) {
  const [model, tBuild] = await timed(() => buildShapeModel(shapes, { varianceKept: 0.95, maxModes: 12, trimFraction }));
  console.error(`shape model trim ${trimFraction}: ${model.modes.length} modes, ${model.shapesUsed}/${model.shapesGiven} shapes, noise var ${model.noiseVariance.toExponential(2)}, built in ${tBuild.toFixed(2)} s`);
  for (const replaceResidual of [2, 3, 4, 6, 8]) {
    for (const [base, preds, tBase] of [['plain', plain, tPlain], ['tta-all', tta['tta-all']!, ttaSeconds['tta-all']!]] as const) {
      const [fits, t] = await timed(() => preds.map((p) => fitShapeModel(model, p.landmarks, p.confidence, { replaceResidual, maxSd: 3, iterations: 10 })));
      const replaced = fits.reduce((a, f) => a + f.replaced.filter(Boolean).length, 0);
      report(`${base}+shape(trim ${trimFraction}, >${replaceResidual} cells)`, fits.map((f) => f.landmarks), t + tBase, { replacedPct: Number(((100 * replaced) / (fits.length * k)).toFixed(2)) });
    }
  }
}
// Cross-fitted: the shape model of each half of the validation images is built WITHOUT their own
// pseudo-labels (template + the other half + the unlabelled training images), so no image's own
// pseudo-label can pull its fit.
const folds = [0, 1].map((f) => new Set(valIds.filter((_, i) => i % 2 === f)));
for (const replaceResidual of [2, 3, 4, 6]) {
  for (const [base, preds] of [['plain', plain], ['tta-all', tta['tta-all']!]] as const) {
    const out: PointYX[][] = new Array(valIds.length);
    let replaced = 0;
    for (const fold of folds) {
      const model = buildShapeModel([templateLandmarks, ...[...pseudo].filter(([id]) => id !== templateId && !fold.has(id)).map(([, p]) => p)], { varianceKept: 0.95, maxModes: 12, trimFraction: 0.1 });
      valIds.forEach((id, i) => {
        if (!fold.has(id)) return;
        const f = fitShapeModel(model, preds[i]!.landmarks, preds[i]!.confidence, { replaceResidual, maxSd: 3, iterations: 10 });
        out[i] = f.landmarks;
        replaced += f.replaced.filter(Boolean).length;
      });
    }
    report(`${base}+shape(cross-fitted, trim 0.1, >${replaceResidual} cells)`, out, 0, { replacedPct: Number(((100 * replaced) / (valIds.length * k)).toFixed(2)) });
  }
}
console.log(JSON.stringify({ runId, backend: backend.backend, profile: profile.name, images: valIds.length, templateId, rows }));
store.destroy();
