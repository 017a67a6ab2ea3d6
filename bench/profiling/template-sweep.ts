/**
 * How good is the template `cc2d site suggest-template` picks? Measured on a finished ISBI run's
 * SSL weights, using the TRAINING images only (Test1/Test2 labels are never read):
 *   1. every training image is embedded once with the run's SSL weights;
 *   2. each of them in turn is the template: its working-grid landmarks are cascade-matched into
 *      the other training images (the SSL stage's pseudo-labels) and scored against those images'
 *      own senior+junior-mean labels at full resolution (protocol B, each image's spacing, 0.1 mm
 *      on ISBI): one MRE per template, the distribution of what picking that image would give;
 *   3. the label-free scores (medoid, cycle consistency; ml/ssl/template-ranking.ts) rank the
 *      same images, and each score's top choice is located in that distribution.
 * Not a test; run by hand against the stack holding the run (prints progress on stderr, a table
 * and one JSON line last on stdout; `--out FILE` also writes every template's numbers):
 *   CC2D_DATA_DIR=… CC2D_TOOLS_BIN=… nice -n 10 npx tsx bench/profiling/template-sweep.ts \
 *     <runId=cc2d-quick-t125-s1130> [--grid 5] [--partners N] [--reference 125] [--out FILE]
 * (`--images N`: only the first N training images, to try the script quickly; `--sweep-cache FILE`:
 * keeps step 2's per-template MREs in FILE and reuses them when the run and images match, so
 * the scores can be re-measured alone; `--scores-only`: prints each score's top 5 and stops, no label read)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { runSslSource } from '../../cli/ssl-stage';
import { loadStackSettings } from '../../infra/config/stack';
import { DatasetReader } from '../../infra/dataset/reader';
import { initBackend } from '../../infra/tf-backend';
import { createS3Store } from '../../infra/storage/s3-store';
import { errorUnitOf, evalCase, radialErrorsMm } from '../../ml/metrics';
import { DEFAULT_CYCLE_PARTNERS, embedIntoBank, HIGHER_IS_BETTER, rankByScore, SslMatcher, TEMPLATE_SCORES, templateScores } from '../../ml/ssl';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1]!.startsWith('--')));
const runId = positional[0] ?? 'cc2d-quick-t125-s1130';
const gridSide = Number(flag('grid') ?? 5);
const partners = flag('partners') !== undefined ? Number(flag('partners')) : undefined;
const reference = flag('reference') ?? '125';
const outFile = flag('out');
const sweepCache = flag('sweep-cache');

const backend = await initBackend();
const store = createS3Store(loadStackSettings());
const t0 = performance.now();
const secs = () => ((performance.now() - t0) / 1000).toFixed(0);
const source = await runSslSource(store, runId);
const { profile } = source;
const reader = new DatasetReader(store, source.datasetVersion);
const [split, labels] = await Promise.all([reader.split(), reader.labels()]);
const limit = flag('images') !== undefined ? Number(flag('images')) : undefined;
const trainIds = limit !== undefined ? split.train?.slice(0, limit) : split.train;
if (trainIds === undefined || trainIds.length < 2) throw new Error(`dataset ${source.datasetVersion} has no training split to sweep`);
const S = profile.inputSize;
const weights = await store.get(source.sslWeights.key, source.sslWeights.sha256);

// 1. Embeddings of every training image, once.
const matcher = SslMatcher.create(profile, weights);
const bank = await embedIntoBank(matcher, trainIds.length, async (a, b) => reader.images(S, trainIds.slice(a, b)));
matcher.dispose();
console.error(`${runId}: ${trainIds.length} training images embedded (${profile.name}, S=${S}) in ${secs()} s`);

const scoresOnly = process.argv.includes('--scores-only');
if (scoresOnly) {
  // The label-free ranking alone (what the tool would suggest), without the sweep.
  const scores = await templateScores(bank, { gridSide, ...(partners !== undefined ? { partners } : {}) });
  bank.dispose();
  for (const name of TEMPLATE_SCORES) {
    const top = rankByScore(scores[name], HIGHER_IS_BETTER[name]).slice(0, 5).map((r) => `${trainIds[r.index]} (${r.score.toFixed(3)})`);
    console.log(`${name}: ${top.join(', ')}`);
  }
  store.destroy();
  process.exit(0);
}

// 2. Every training image as the template, scored on the others' own labels (protocol B, mm).
const unit = errorUnitOf(labels, trainIds);
const cached = sweepCache !== undefined && existsSync(sweepCache) ? (JSON.parse(readFileSync(sweepCache, 'utf8')) as { runId: string; ids: string[]; sweepMre: number[] }) : undefined;
const sweepMre: number[] = cached?.runId === runId && cached.ids.join() === trainIds.join() ? cached.sweepMre : [];
if (sweepMre.length > 0) console.error(`sweep: ${sweepMre.length} templates from ${sweepCache}`);
for (const [t, id] of trainIds.entries()) {
  if (sweepMre.length === trainIds.length) break;
  const others = trainIds.map((_, j) => j).filter((j) => j !== t);
  const desc = bank.describe(t, await reader.workingLandmarks(id, S));
  const points = await bank.match(desc, others);
  tf.dispose(desc);
  let sum = 0;
  let count = 0;
  others.forEach((j, n) => {
    for (const e of radialErrorsMm(evalCase(labels, trainIds[j]!, points[n]!, unit), { protocol: 'B', gridSize: S })) {
      sum += e;
      count++;
    }
  });
  sweepMre.push(sum / count);
  if ((t + 1) % 10 === 0) console.error(`sweep ${t + 1}/${trainIds.length} ${secs()} s`);
}
const sweepSeconds = Number(secs());
if (sweepCache !== undefined) writeFileSync(sweepCache, JSON.stringify({ runId, ids: trainIds, sweepMre }));

// 3. The label-free scores.
const s0 = performance.now();
const scores = await templateScores(bank, {
  gridSide,
  ...(partners !== undefined ? { partners } : {}),
  onProgress: (d, n) => { if (d % 10 === 0) console.error(`cycle ${d}/${n} ${secs()} s`); },
});
const scoreSeconds = Math.round((performance.now() - s0) / 1000);
bank.dispose();

// Rank 1 = lowest sweep MRE; ties share the better rank.
const sortedMre = [...sweepMre].sort((a, b) => a - b);
const sweepRank = (t: number) => sortedMre.findIndex((v) => v === sweepMre[t]) + 1;
const q = (f: number) => sortedMre[Math.min(sortedMre.length - 1, Math.floor(f * (sortedMre.length - 1)))]!;
const round = (v: number) => Number(v.toFixed(3));
/** Spearman rank correlation of a score (oriented so that larger = better) with −MRE. */
function spearman(a: readonly number[], b: readonly number[]): number {
  const ranks = (v: readonly number[]) => {
    const order = v.map((x, i) => ({ x, i })).sort((p, r) => p.x - r.x);
    const out = new Array<number>(v.length);
    order.forEach((o, k) => { out[o.i] = k; });
    return out;
  };
  const ra = ranks(a);
  const rb = ranks(b);
  const n = a.length;
  const d2 = ra.reduce((s, r, i) => s + (r - rb[i]!) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}
const describeChoice = (t: number) => ({ id: trainIds[t]!, sweepMreMm: round(sweepMre[t]!), sweepRank: sweepRank(t), percentile: round((100 * sweepRank(t)) / trainIds.length) });
const refIndex = trainIds.indexOf(reference);
const byScore = Object.fromEntries(TEMPLATE_SCORES.map((name) => {
  const ranked = rankByScore(scores[name], HIGHER_IS_BETTER[name]);
  const oriented = scores[name].map((s) => (HIGHER_IS_BETTER[name] ? s : -s));
  const top5 = ranked.slice(0, 5).map((r) => describeChoice(r.index));
  return [name, {
    top: { ...describeChoice(ranked[0]!.index), score: round(ranked[0]!.score) },
    top5MeanSweepMreMm: round(top5.reduce((s, c) => s + c.sweepMreMm, 0) / top5.length),
    top5,
    spearmanWithAccuracy: round(spearman(oriented, sweepMre.map((m) => -m))),
  }];
}));
const result = {
  runId, profile: profile.name, inputSize: S, datasetVersion: source.datasetVersion, backend: backend.backend, cpu: os.cpus()[0]?.model, images: trainIds.length,
  unit, protocol: 'B', gridSide, partners: Math.min(partners ?? DEFAULT_CYCLE_PARTNERS, trainIds.length - 1),
  sweep: { minMm: round(sortedMre[0]!), q1Mm: round(q(0.25)), medianMm: round(q(0.5)), q3Mm: round(q(0.75)), maxMm: round(sortedMre[sortedMre.length - 1]!), best: describeChoice(sweepMre.indexOf(sortedMre[0]!)), seconds: sweepSeconds },
  ...(refIndex >= 0 ? { reference: describeChoice(refIndex) } : {}),
  scores: byScore,
  scoreSeconds,
  seconds: Number(secs()),
};
for (const [name, s] of Object.entries(byScore)) console.log(`${name.padEnd(7)} top ${s.top.id}: sweep MRE ${s.top.sweepMreMm} mm, rank ${s.top.sweepRank}/${trainIds.length}; top-5 mean ${s.top5MeanSweepMreMm} mm; Spearman ${s.spearmanWithAccuracy}`);
console.log(`sweep: min ${result.sweep.minMm} / q1 ${result.sweep.q1Mm} / median ${result.sweep.medianMm} / q3 ${result.sweep.q3Mm} / max ${result.sweep.maxMm} mm; template ${reference} rank ${result.reference?.sweepRank ?? '-'}`);
if (outFile) writeFileSync(outFile, `${JSON.stringify({ ...result, perTemplate: trainIds.map((id, t) => ({ id, sweepMreMm: round(sweepMre[t]!), medoid: scores.medoid[t], cycle: scores.cycle[t] })) }, null, 1)}\n`);
console.log(JSON.stringify(result));
store.destroy();
