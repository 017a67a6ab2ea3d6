/**
 * More SSL steps, measured on a finished run without training from scratch (not part of the
 * pipeline; run by hand):
 *   npx tsx bench/profiling/ssl-extend-on-run.ts <runId> <step,step,...> [outDir] [checkpointFile]
 * Resumes the run's newest stored SSL checkpoint with the run's own profile, seed and training
 * images, trains on to the largest step given, and at each given step scores the pseudo-labels
 * (cascade matching of the template into the training images) against the training images' own
 * labels (the validation set; the test splits are never read). The learning rate depends only
 * on the step (lr·gamma^⌊step/lrStepEvery⌋) and resuming is exact, so the weights at step N are
 * those of a fresh run with `ssl.steps = N` and the same lrStepEvery. At the run's own step count
 * the script checks that claim: the exported weights must hash to the run's stored SSL weights.
 * With outDir, the weights and the trainer's checkpoint of each step are written there as
 * ssl-<step>.bin and ssl-<step>.ckpt; checkpointFile (such a .ckpt) resumes from it instead of
 * the run's stored checkpoint.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { RunReportDocumentSchema } from '../../contracts/documents';
import { readPublishedReport } from '../../infra/compare/snapshot';
import { loadStackSettings } from '../../infra/config/stack';
import { DatasetReader } from '../../infra/dataset/reader';
import { sha256Hex } from '../../infra/storage/hash';
import { runKeys } from '../../infra/storage/keys';
import { createS3Store } from '../../infra/storage/s3-store';
import { initBackend } from '../../infra/tf-backend';
import { scoreTestPredictions } from '../../ml/metrics';
import { createSslTrainer, matchTemplate, prototypePoolIds } from '../../ml/ssl';
import type { PointYX } from '../../ml/types';
import { runSslSource } from '../../cli/ssl-stage';

const [runId, stepsArg, outDir, checkpointFile] = process.argv.slice(2);
if (!runId || !stepsArg) throw new Error('usage: ssl-extend-on-run.ts <runId> <step,step,...> [outDir]');
const evalSteps = stepsArg.split(',').map(Number).sort((a, b) => a - b);
if (evalSteps.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`steps must be positive integers, got ${stepsArg}`);
await initBackend();
const store = createS3Store(loadStackSettings());
const source = await runSslSource(store, runId);
const { report } = await readPublishedReport(store, runId, RunReportDocumentSchema, 'needs a completed run');
const plan = report.plan as unknown as { trainIds: string[] };
const seed = (report.lineage as unknown as { seeds: { run: number } }).seeds.run;
const S = source.profile.inputSize;
const lastStep = evalSteps[evalSteps.length - 1]!;
const profile = { ...source.profile, ssl: { ...source.profile.ssl, steps: lastStep } };

/** The newest checkpoint of the run's SSL stage in the store. */
async function storedCheckpoint(): Promise<Uint8Array> {
  const manifests = (await store.list(`${runKeys.checkpointDir(runId!, 'ssl')}/`)).map((o) => o.key).filter((k) => k.endsWith('/manifest.json')).sort();
  if (manifests.length === 0) throw new Error(`${runId}: no SSL checkpoint is stored`);
  const manifest = JSON.parse(new TextDecoder().decode(await store.get(manifests[manifests.length - 1]!))) as { blob: { key: string; sha256: string } };
  return store.get(manifest.blob.key, manifest.blob.sha256);
}
const checkpoint = checkpointFile ? new Uint8Array(readFileSync(checkpointFile)) : await storedCheckpoint();

const reader = new DatasetReader(store, source.datasetVersion);
const labels = await reader.labels();
const { template, templateLandmarks } = await reader.template(source.templateId, S);
const images = await reader.images(S, plan.trainIds);
const validationIds = plan.trainIds.filter((id) => id !== source.templateId && labels.images[id] !== undefined);
const validationImages = validationIds.map((id) => images[plan.trainIds.indexOf(id)]!);
const poolImages = prototypePoolIds(plan.trainIds, source.templateId).map((id) => images[plan.trainIds.indexOf(id)]!);
const ownSteps = source.profile.ssl.steps;

const trainer = await createSslTrainer({ profile, images, seed, checkpoint });
if (trainer.step >= evalSteps[0]!) throw new Error(`${runId}: the checkpoint is at step ${trainer.step}; every step given must be after it`);
const t0 = performance.now();
console.error(`${runId}: resumed at step ${trainer.step} (seed ${seed}, ${images.length} images), training to ${lastStep}`);
for (const target of evalSteps) {
  await trainer.train(target - trainer.step, (p) => {
    if (p.step % 200 === 0) console.error(`step ${p.step} loss ${p.loss.toFixed(4)} ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  });
  const weights = await trainer.exportWeights();
  const sha = sha256Hex(weights);
  if (outDir) {
    writeFileSync(`${outDir}/ssl-${target}.bin`, weights);
    writeFileSync(`${outDir}/ssl-${target}.ckpt`, await trainer.checkpoint());
  }
  // With prototype rounds, the pool is every training image but the template, as in pseudo-labelling.
  const points = await matchTemplate({ profile, weights, template, templateLandmarks, images: validationImages, pool: poolImages });
  const predicted = new Map<string, PointYX[]>(validationIds.map((id, i) => [id, points[i]!]));
  const scored = scoreTestPredictions({ labels, predicted, testSplits: { train: validationIds }, gridSize: S });
  const summary = (p: 'A' | 'B') => {
    const s = scored.summary[p]!.train!;
    return { mre: +s.mreMm.toFixed(3), sdr2: s.sdr['2'], sdr4: s.sdr['4'], outlierPercent: s.outlierPercent };
  };
  console.log(JSON.stringify({
    runId, seed, step: target, weightsSha256: sha,
    ...(target === ownSteps ? { equalsRunWeights: sha === source.sslWeights.sha256 } : {}),
    validationImages: validationIds.length, A: summary('A'), B: summary('B'),
    seconds: Math.round((performance.now() - t0) / 1000), cpuModel: os.cpus()[0]?.model, loadavg: os.loadavg().map((v) => v.toFixed(1)).join(' '), date: new Date().toISOString(),
  }));
}
trainer.dispose();
store.destroy();
