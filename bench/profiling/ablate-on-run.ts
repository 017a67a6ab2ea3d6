/**
 * Test-set ablation of the final model's levers on a finished run, without retraining: the run's
 * stored TPL and refinement weights predict its test images under each combination of the
 * post-processing (shape prior, test-time augmentation) and the refinement stage, through
 * ml/final-landmarks.ts as evaluation does, and each is scored with ml/metrics. The row that
 * matches the run's own profile must reproduce the run's stored metrics (printed beside it), which
 * checks that this script measures what the pipeline computes.
 *   npx tsx bench/profiling/ablate-on-run.ts <runId> [variant,...]
 * Variants: tpl, shape, refine, shape+refine, tta+shape, tta+shape+refine (default: all).
 * Prints one JSON line per variant (MRE, SD, SDR, outliers > 10 mm per protocol; ms per image).
 */
import os from 'node:os';
import { loadStackSettings } from '../../infra/config/stack';
import { DatasetReader } from '../../infra/dataset/reader';
import { createS3Store } from '../../infra/storage/s3-store';
import { initBackend } from '../../infra/tf-backend';
import { runSslSource } from '../../cli/ssl-stage';
import { createFinalLandmarkPredictor } from '../../ml/final-landmarks';
import { scoreTestPredictions, testIdsOf } from '../../ml/metrics';
import { buildRunShapeModel } from '../../ml/postprocess';
import type { Profile } from '../../ml/profiles';
import type { PointYX } from '../../ml/types';
import { loadRunArtifacts } from './run-artifacts';

const VARIANTS: Record<string, { shape: boolean; tta: boolean; refine: boolean }> = {
  tpl: { shape: false, tta: false, refine: false },
  shape: { shape: true, tta: false, refine: false },
  refine: { shape: false, tta: false, refine: true },
  'shape+refine': { shape: true, tta: false, refine: true },
  'tta+shape': { shape: true, tta: true, refine: false },
  'tta+shape+refine': { shape: true, tta: true, refine: true },
};

const [runId, variantArg] = process.argv.slice(2);
if (!runId) throw new Error('usage: ablate-on-run.ts <runId> [variant,...]');
const names = variantArg ? variantArg.split(',') : Object.keys(VARIANTS);
for (const n of names) if (!VARIANTS[n]) throw new Error(`unknown variant "${n}" (expected ${Object.keys(VARIANTS).join(', ')})`);

const backend = await initBackend();
const store = createS3Store(loadStackSettings());
const { datasetVersion, templateId, testSplits, profile } = await runSslSource(store, runId);
const { keys, pseudoLabels } = await loadRunArtifacts(store, runId);
const tplKey = keys.find((k) => /\/tpl\/weights-/.test(k));
const refineKey = keys.find((k) => /\/refine\/weights-/.test(k));
if (!tplKey) throw new Error(`${runId}: no TPL weights in its manifest`);
const reader = new DatasetReader(store, datasetVersion);
const labels = await reader.labels();
const size = profile.inputSize;
const templateLandmarks = await reader.workingLandmarks(templateId, size);
const [tplWeights, refineWeights] = await Promise.all([store.get(tplKey), refineKey ? store.get(refineKey) : undefined]);
const testIds = testIdsOf(testSplits);
const images = await reader.images(size, testIds);
const fineCache = new Map<number, Awaited<ReturnType<DatasetReader['images']>>>();
const fineImages = async (s: number) => {
  if (!fineCache.has(s)) fineCache.set(s, await reader.images(s, testIds));
  return fineCache.get(s)!;
};
const pseudo = [...pseudoLabels].filter(([id]) => id !== templateId).map(([, pts]) => pts);

const round = (v: number | undefined, d: number) => (v === undefined ? null : Number(v.toFixed(d)));
for (const name of names) {
  const v = VARIANTS[name]!;
  if (v.refine && (!refineWeights || !profile.refine)) {
    console.log(JSON.stringify({ runId, variant: name, skipped: 'the run has no refinement stage' }));
    continue;
  }
  const variantProfile: Profile = {
    ...profile,
    postprocess: { tta: { ...profile.postprocess.tta, enabled: v.tta }, shapePrior: { ...profile.postprocess.shapePrior, enabled: v.shape } },
  };
  const shapeModel = v.shape ? buildRunShapeModel(variantProfile, templateLandmarks, pseudo) : undefined;
  const predictor = createFinalLandmarkPredictor({
    profile: variantProfile, tplWeights, ...(v.refine ? { refineWeights } : {}), ...(shapeModel ? { shapeModel } : {}), landmarkCount: templateLandmarks.length,
  });
  const predicted = new Map<string, PointYX[]>();
  const t0 = performance.now();
  try {
    const chunk = 16;
    for (let i = 0; i < testIds.length; i += chunk) {
      const ids = testIds.slice(i, i + chunk);
      const fine = async (s: number) => (await fineImages(s)).slice(i, i + chunk);
      const out = await predictor.predict(images.slice(i, i + chunk), fine);
      ids.forEach((id, j) => predicted.set(id, out[j]!.landmarks));
    }
  } finally {
    predictor.dispose();
  }
  const msPerImage = (performance.now() - t0) / testIds.length;
  const scores = scoreTestPredictions({ labels, predicted, testSplits, gridSize: size });
  const row: Record<string, unknown> = { runId, variant: name, backend: backend.backend, cpuModel: os.cpus()[0]?.model, msPerImage: round(msPerImage, 1) };
  for (const p of ['A', 'B'] as const) {
    const m = scores.summary[p]![scores.headlineSet]!;
    row[p] = { mre: round(m.mreMm, 3), sd: round(m.sdMm, 3), sdr2: round(m.sdr['2'], 1), sdr25: round(m.sdr['2.5'], 1), sdr3: round(m.sdr['3'], 1), sdr4: round(m.sdr['4'], 1), outliers10: round(m.outlierPercent, 2) };
  }
  console.log(JSON.stringify(row));
}
store.destroy();
