/**
 * Held-out validation of the stages after pseudo-labelling (TPL, post-processing, refinement) on a
 * finished run's pseudo-labels, training images only: TPL and the refiner are trained, with the
 * cpu profile's settings plus the given overrides, on the pseudo-labels of training images 001–100
 * (+ the template with its true labels), the shape model is built from the same pseudo-labels, and
 * the final landmarks (ml/final-landmarks.ts, as evaluation computes them) of 101–150 (the template
 * excluded) are scored against their TRUE labels. Test images are never read. Unlike
 * tta-on-run.ts, the scored images' pseudo-labels are in no stage's training data, so TPL settings
 * (steps, schedule) can be compared without the optimism of scoring images the net was fitted to.
 * Not part of the pipeline; prints one JSON line last.
 *   npx tsx bench/profiling/holdout-on-run.ts <runId> ['{"tpl":{"steps":3000,"lrDecaySteps":[2000]},"refine":{…}}']
 * The JSON is a profile override (as a run config's `overrides`) on top of the run's own profile
 * as ml/profiles.ts defines it now (`cpu` or `quick`: one with refinement); besides the
 * profile's own final landmarks it scores refinement without `maxMove` and a post-hoc sweep of it.
 * Each stage's weights are kept under /tmp/cc2d-holdout keyed by the run and that stage's
 * settings, so variants of a later stage reuse the earlier stage's training. With `rounds` ≥ 1 (self-training), round r
 * relabels 001–100 with round r − 1's final landmarks (TPL, shape prior, refinement) and trains
 * TPL, the shape model and the refiner again from scratch on those labels; every round is scored.
 * `refine.maxRoundTrip` in the overrides leaves pseudo-labels out of the refiner's training (round 0)
 * as the pipeline does, e.g. '{"refine":{"maxRoundTrip":2}}'; `tpl.maxRoundTrip` does the same for
 * TPL's training.
 *   npx tsx bench/profiling/holdout-on-run.ts <runId> '<overrides JSON>' [rounds=0]
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../infra/tf-backend';
import { loadStackSettings } from '../../infra/config/stack';
import { createS3Store } from '../../infra/storage/s3-store';
import { DatasetReader } from '../../infra/dataset/reader';
import { runSslSource } from '../../cli/ssl-stage';
import { holdoutSplit, scoreValidation } from './validation-score';
import { resolveProfile, type Profile } from '../../ml/profiles';
import { createTplTrainer } from '../../ml/tpl';
import { createRefinePredictor, createRefineTrainer, rescalePoint } from '../../ml/refine';
import { buildRunShapeModel } from '../../ml/postprocess';
import { roundTripMask, SslMatcher } from '../../ml/ssl';
import { createFinalLandmarkPredictor } from '../../ml/final-landmarks';
import type { GrayImage, PointYX } from '../../ml/types';
import { loadRunArtifacts } from './run-artifacts';

const [runId, overridesArg, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 0);
const overrides = overridesArg ? JSON.parse(overridesArg) : {};
const backend = await initBackend();
const store = createS3Store(loadStackSettings());
const source = await runSslSource(store, runId!);
// The run's profile as the code defines it now, plus the overrides.
const profileName = source.profile.name;
const profile = resolveProfile(profileName, overrides);
if (!profile.refine) throw new Error(`holdout-on-run: profile '${profileName}' has no refinement stage; use a cpu or quick run (or add "refine" to the overrides)`);
const { datasetVersion, templateId } = source;
const { pseudoLabels: pseudo } = await loadRunArtifacts(store, runId!);
const reader = new DatasetReader(store, datasetVersion);
const labels = await reader.labels();
const S = profile.inputSize;
const { trainIds, valIds } = holdoutSplit(pseudo.keys(), templateId);
if (valIds.some((id) => !labels.images[id]?.gtMeanXyPx)) throw new Error('holdout-on-run: validation images without ground truth');
const trainLabels = trainIds.map((id) => pseudo.get(id)!);

const cacheDir = '/tmp/cc2d-holdout';
mkdirSync(cacheDir, { recursive: true });
const seconds: Record<string, number> = {};
async function cachedWeights(stage: string, settings: unknown, labelsTrained: readonly PointYX[][], train: () => Promise<Uint8Array>): Promise<Uint8Array> {
  const key = createHash('sha256').update(JSON.stringify({ runId, stage, settings, trainIds, labelsTrained: labelsTrained === trainLabels ? undefined : labelsTrained })).digest('hex').slice(0, 16);
  const file = join(cacheDir, `${runId}-${stage}-${key}.bin`);
  if (existsSync(file)) return new Uint8Array(readFileSync(file));
  const t0 = performance.now();
  const weights = await train();
  seconds[stage] = (seconds[stage] ?? 0) + Math.round((performance.now() - t0) / 1000);
  writeFileSync(file, weights);
  return weights;
}

function progress(stage: string, steps: number, t0: number) {
  return (p: { step: number; loss: number }) => {
    if (p.step % 250 === 0 || p.step === steps) console.error(`${stage} step ${p.step}/${steps} loss ${p.loss.toFixed(4)} ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  };
}

const { template, templateLandmarks } = await reader.template(templateId, S);
const refine = profile.refine!;
const F = refine.inputSize;
const fineTemplate = await reader.template(templateId, F);
const trainImages = await reader.images(S, trainIds);
/**
 * With `refine.maxRoundTrip` (cells), as the refinement activity does: the refiner never samples a
 * pseudo-label of 001-100 whose round trip, matched back into the template with the run's SSL
 * weights (ml/ssl/round-trip.ts), ends farther than that from the template's own landmark.
 */
async function roundTripLabelMask(maxRoundTrip: number | undefined, stage: string): Promise<boolean[][] | undefined> {
  if (maxRoundTrip === undefined) return undefined;
  const matcher = SslMatcher.create(source.profile, await store.get(source.sslWeights.key, source.sslWeights.sha256));
  try {
    const { mask, leftOut } = await roundTripMask({ matcher, template, templateLandmarks, labels: trainLabels, maxRoundTrip, load: async (a, b) => trainImages.slice(a, b) });
    console.error(`round trip > ${maxRoundTrip} cells: ${leftOut} of ${mask.flat().length} pseudo-labels left out of the ${stage}'s training`);
    return mask;
  } finally {
    matcher.dispose();
  }
}
const refineMask = await roundTripLabelMask(profile.refine?.maxRoundTrip ?? undefined, 'refiner');
const tplMaxRoundTrip = profile.tpl.maxRoundTrip ?? undefined;
const tplMask = await roundTripLabelMask(tplMaxRoundTrip, 'TPL net');
interface Stages { tplWeights: Uint8Array; refineWeights: Uint8Array; shapeModel: ReturnType<typeof buildRunShapeModel> }
async function trainStages(stageLabels: PointYX[][]): Promise<Stages> {
  const tplLabelMask = stageLabels === trainLabels ? tplMask : undefined;
  const tplWeights = await cachedWeights('tpl', { ...profile.tpl, maxRoundTrip: tplLabelMask ? tplMaxRoundTrip : undefined }, stageLabels, async () => {
    const trainer = await createTplTrainer({
      profile, images: trainImages, pseudoLabels: stageLabels, template, templateLandmarks, seed: 2022, ...(tplLabelMask ? { labelMask: tplLabelMask } : {}),
    });
    await trainer.train(profile.tpl.steps, progress('tpl', profile.tpl.steps, performance.now()));
    const w = await trainer.exportWeights();
    trainer.dispose();
    return w;
  });
  // maxMove acts at prediction only: not part of the weights' key.
  const labelMask = stageLabels === trainLabels ? refineMask : undefined;
  const refineWeights = await cachedWeights('refine', { ...refine, maxMove: undefined, maxRoundTrip: labelMask ? refine.maxRoundTrip : undefined }, stageLabels, async () => {
    const trainer = await createRefineTrainer({
      labelMask,
      refine, images: await reader.images(F, trainIds), labels: stageLabels.map((pts) => pts.map((p) => rescalePoint(p, S, F))),
      template: fineTemplate.template, templateLandmarks: fineTemplate.templateLandmarks, seed: 2022,
    });
    await trainer.train(refine.steps, progress('refine', refine.steps, performance.now()));
    const w = await trainer.exportWeights();
    trainer.dispose();
    return w;
  });
  return { tplWeights, refineWeights, shapeModel: buildRunShapeModel(profile, templateLandmarks, stageLabels) };
}

const score = (pred: readonly PointYX[][]) => scoreValidation(labels, valIds, pred, S);
const valImages = await reader.images(S, valIds);
async function finalLandmarks(stages: Stages, p: Profile, withRefine: boolean, ids: readonly string[], images: readonly GrayImage[]) {
  const t0 = performance.now();
  const predictor = createFinalLandmarkPredictor({
    profile: p, tplWeights: stages.tplWeights, refineWeights: withRefine ? stages.refineWeights : undefined, shapeModel: stages.shapeModel, landmarkCount: templateLandmarks.length,
  });
  const out = await predictor.predict(images, () => reader.images(F, ids));
  predictor.dispose();
  return { pts: out.map((o) => o.landmarks), msPerImage: Math.round((performance.now() - t0) / ids.length) };
}
const withTta = resolveProfile(profileName, { ...overrides, postprocess: { ...overrides.postprocess, tta: { ...overrides.postprocess?.tta, enabled: true } } });
// The post-hoc sweep of move limits starts from refinement without a limit, whatever the profile says.
const { maxMove: _profileLimit, ...refineUnlimited } = profile.refine!;
const unlimited: Profile = { ...profile, refine: refineUnlimited };
const near = (a: PointYX, b: PointYX, tau: number) => Math.hypot(a[0] - b[0], a[1] - b[1]) <= tau;
const mid = (a: PointYX, b: PointYX): PointYX => [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
/**
 * SSL matching fused with the later stages. The run's pseudo-labels of 101-150 are the SSL stage's
 * matches (prototype rounds included), and no TPL or refiner here was trained on them, so they are
 * what matching gives a new image. τ in working-grid cells: where the match and the other point
 * agree within τ, take the match ('ssl-or-…') or the midpoint ('mean-…'), else the other point.
 */
async function sslFusionVariants(stages: Stages, predicted: Record<string, PointYX[][]>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const ssl = valIds.map((id) => pseudo.get(id)!);
  const fuse = (base: PointYX[][], tau: number, how: 'ssl' | 'mean') =>
    base.map((row, i) => row.map((p, k) => (near(p, ssl[i]![k]!, tau) ? (how === 'ssl' ? ssl[i]![k]! : mid(p, ssl[i]![k]!)) : p)));
  const report = (name: string, pts: PointYX[][]) => {
    out[name] = score(pts);
    console.error('fusion', name, JSON.stringify(out[name]));
  };
  report('ssl-only', ssl);
  for (const tau of [2, 4, 8, 12, Infinity]) {
    report(`ssl-or-final<=${tau}`, fuse(predicted['final']!, tau, 'ssl'));
    report(`mean-ssl-final<=${tau}`, fuse(predicted['final']!, tau, 'mean'));
  }
  // Refinement started from the fused point instead of the TPL point, and from the match itself.
  const refiner = createRefinePredictor({ refine: profile.refine!, weights: stages.refineWeights, landmarkCount: templateLandmarks.length });
  const fine = await reader.images(F, valIds);
  const refineFrom = async (starts: PointYX[][]) =>
    (await refiner.refine(fine, starts.map((row) => row.map((p) => rescalePoint(p, S, F))))).map((row) => row.map((p) => rescalePoint(p, F, S)));
  const fromSsl = await refineFrom(ssl);
  report('refine(ssl)', fromSsl);
  for (const tau of [2, 4, 8, 12, Infinity]) {
    report(`mean-refine(ssl)-final<=${tau}`, predicted['final']!.map((row, i) => row.map((p, k) => (near(p, fromSsl[i]![k]!, tau) ? mid(p, fromSsl[i]![k]!) : p))));
  }
  for (const tau of [4, 8, 12]) {
    report(`refine(ssl-or-tpl<=${tau})`, await refineFrom(fuse(predicted['tpl+shape']!, tau, 'ssl')));
    report(`refine(mean-ssl-tpl<=${tau})`, await refineFrom(fuse(predicted['tpl+shape']!, tau, 'mean')));
  }
  refiner.dispose();
  return out;
}
const byRound: Record<string, unknown>[] = [];
let stageLabels = trainLabels;
for (let round = 0; round <= rounds; round++) {
  const stages = await trainStages(stageLabels);
  const variants: Record<string, unknown> = {};
  const predicted: Record<string, PointYX[][]> = {};
  for (const [name, p, withRefine] of [['tpl+shape', profile, false], ['final', profile, true], ['final+tta', withTta, true], ['final-no-limit', unlimited, true]] as const) {
    const { pts, msPerImage } = await finalLandmarks(stages, p, withRefine, valIds, valImages);
    predicted[name] = pts;
    variants[name] = { ...score(pts), msPerImage };
    console.error(`round ${round}`, name, JSON.stringify(variants[name]));
  }
  // Refinement moves limited to r fine-grid px from the post-processed TPL point (the refiner is trained
  // with its patch centre within `jitter` px of the label): a move beyond r keeps the TPL point.
  const tplPts = predicted['tpl+shape']!;
  for (const r of [10, 15, 20, 25]) {
    const limit = r * (S / F);
    const pts = predicted['final-no-limit']!.map((row, i) => row.map((p, k): PointYX => (Math.hypot(p[0] - tplPts[i]![k]![0], p[1] - tplPts[i]![k]![1]) > limit ? tplPts[i]![k]! : p)));
    variants[`final-move<=${r}`] = score(pts);
    console.error(`round ${round}`, `final-move<=${r}`, JSON.stringify(variants[`final-move<=${r}`]));
  }
  if (round === 0) Object.assign(variants, await sslFusionVariants(stages, predicted));
  byRound.push(variants);
  if (round < rounds) stageLabels = (await finalLandmarks(stages, profile, true, trainIds, trainImages)).pts;
}
console.log(JSON.stringify({ runId, profile: profileName, backend: backend.backend, overrides, rounds, ...(tplMask ? { tplMaxRoundTrip, tplLeftOut: tplMask.flat().filter((u) => !u).length } : {}), trainImages: trainIds.length + 1, valImages: valIds.length, trainSeconds: seconds, byRound }));
store.destroy();
