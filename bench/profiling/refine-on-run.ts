/**
 * Validates the full-resolution refinement stage (ml/refine) on a finished run's artifacts,
 * training images only: the refiner is trained on the run's pseudo-labels of training images
 * 001–100 (+ the template with its true labels) and measured against the TRUE labels of
 * 101–150 (the template excluded), before (the run's TPL predictions) and after refinement.
 * Test images are never read. Not part of the pipeline; prints one JSON line last.
 *   npx tsx bench/profiling/refine-on-run.ts <runId> ['{"steps":800,"landmarkMode":"heads",…}']
 * The JSON overrides fields of REFINE_DEFAULTS (ml/profiles.ts). The fine images
 * are made from the originals under ISBI_DIR (training images only) with the ingest's resampler,
 * so any refine.inputSize can be tried without a dataset version holding it; the working-grid
 * truth of the template at that size is computed as the ingest does (int(y·F/H), int(x·F/W)).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../infra/tf-backend';
import { decodeGrey } from '../../infra/dataset/decode-image';
import { resizeBilinearAntialias } from '../../infra/dataset/resample';
import { loadStackSettings } from '../../infra/config/stack';
import { createS3Store } from '../../infra/storage/s3-store';
import { DatasetReader } from '../../infra/dataset/reader';
import { runSslSource } from '../../cli/ssl-stage';
import { holdoutSplit, scoreValidation } from './validation-score';
import { REFINE_DEFAULTS, resolveProfile } from '../../ml/profiles';
import { createTplPredictor } from '../../ml/tpl';
import { createRefinePredictor, createRefineTrainer, RefineProfileSchema, rescalePoint } from '../../ml/refine';
import type { GrayImage, PointYX } from '../../ml/types';

const [runId, overridesArg] = process.argv.slice(2);
const refine = RefineProfileSchema.parse({ ...REFINE_DEFAULTS, ...(overridesArg ? JSON.parse(overridesArg) : {}) });
const backend = await initBackend();
const store = createS3Store(loadStackSettings());
const text = async (key: string) => new TextDecoder().decode(await store.get(key));
const { datasetVersion, templateId } = await runSslSource(store, runId!);
const manifest = JSON.parse(await text(`runs/${runId}/manifest.json`));
const files: Array<{ key: string }> = manifest.files ?? manifest.artifacts ?? [];
const abs = (k: string) => (k.startsWith('runs/') ? k : `runs/${runId}/${k}`);
const pseudo = new Map<string, PointYX[]>();
for (const f of files.filter((x) => /pseudo-labels\/shard/.test(x.key))) {
  for (const [id, pts] of Object.entries(JSON.parse(await text(abs(f.key))).labels as Record<string, PointYX[]>)) pseudo.set(id, pts);
}
const tplWeights = await store.get(abs(files.find((x) => /tpl\/weights-/.test(x.key))!.key));
const profile = resolveProfile('quick'); // the quick and cpu profiles share the TPL network and grid
const S = profile.inputSize;
const F = refine.inputSize;
const reader = new DatasetReader(store, datasetVersion);
const labels = await reader.labels();
const num = (id: string) => Number(id);
const { trainIds, valIds } = holdoutSplit(pseudo.keys(), templateId);
if (valIds.some((id) => !labels.images[id]?.gtMeanXyPx)) throw new Error('validation images without ground truth');

const isbiDir = process.env.ISBI_DIR ?? '../shared/datasets/isbi2015_ceph';
const cacheDir = `/tmp/cc2d-refine-fine-${F}`;
mkdirSync(cacheDir, { recursive: true });
async function fineImages(ids: readonly string[]): Promise<GrayImage[]> {
  const out: GrayImage[] = [];
  for (const id of ids) {
    if (num(id) > 150) throw new Error(`refine-on-run: ${id} is not a training image`);
    const cached = join(cacheDir, `${id}.u8`);
    if (!existsSync(cached)) {
      const grey = await decodeGrey(readFileSync(join(isbiDir, 'RawImage', 'TrainingData', `${id}.jpg`)), 'jpeg');
      writeFileSync(cached, resizeBilinearAntialias(grey, F, F).data);
    }
    const u8 = readFileSync(cached);
    out.push({ height: F, width: F, data: Float32Array.from(u8, (v) => v / 255) });
  }
  return out;
}
const tl = labels.images[templateId]!;
const template = (await fineImages([templateId]))[0]!;
const workingYx = (size: number) => tl.gtTruncXyPx!.map(([x, y]) => [Math.trunc((y * size) / tl.heightPx), Math.trunc((x * size) / tl.widthPx)] as PointYX);
const templateLandmarks = workingYx(F);
if (JSON.stringify(workingYx(S)) !== JSON.stringify(tl.workingYx![String(S)])) throw new Error('refine-on-run: the template truth does not match the ingest\'s');
const t0 = performance.now();
const trainer = await createRefineTrainer({
  refine, images: await fineImages(trainIds), labels: trainIds.map((id) => pseudo.get(id)!.map((p) => rescalePoint(p, S, F))),
  template, templateLandmarks, seed: 2022,
});
let lossSum = 0;
await trainer.train(refine.steps, (p) => {
  lossSum += p.loss;
  if (p.step % 100 === 0) {
    console.error(`step ${p.step}/${refine.steps} loss(mean of last 100) ${(lossSum / 100).toFixed(3)} ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    lossSum = 0;
  }
});
const trainSeconds = (performance.now() - t0) / 1000;
const weights = await trainer.exportWeights();
trainer.dispose();

// Before: the run's TPL predictions on the validation images; after: refined on the fine grid.
const tpl = createTplPredictor({ profile, weights: tplWeights, landmarkCount: templateLandmarks.length });
const before = await tpl.predict(await reader.images(S, valIds));
tpl.dispose();
// Each pass count up to refine.passes, from the same weights (pass n re-centres on pass n − 1).
const afterByPasses: PointYX[][][] = [];
let refineSeconds = 0;
const valFine = await fineImages(valIds);
for (let passes = 1; passes <= refine.passes; passes++) {
  const t1 = performance.now();
  const refiner = createRefinePredictor({ refine: { ...refine, passes }, weights, landmarkCount: templateLandmarks.length });
  const fine = await refiner.refine(valFine, before.map((pts) => pts.map((p) => rescalePoint(p, S, F))));
  refiner.dispose();
  refineSeconds = (performance.now() - t1) / 1000;
  afterByPasses.push(fine.map((pts) => pts.map((p) => rescalePoint(p, F, S))));
}

const score = (pred: readonly PointYX[][]) => scoreValidation(labels, valIds, pred, S);
const result = {
  runId, backend: backend.backend, refine, trainImages: trainIds.length + 1, valImages: valIds.length,
  trainSeconds: Math.round(trainSeconds), refineSecondsPerImage: +(refineSeconds / valIds.length).toFixed(3),
  before: score(before), after: Object.fromEntries(afterByPasses.map((pred, i) => [`passes${i + 1}`, score(pred)])),
};
console.log(JSON.stringify(result));
store.destroy();
