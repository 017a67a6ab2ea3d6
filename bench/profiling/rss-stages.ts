/**
 * Where a worker's resident memory grows: the `cpu` profile's SSL, TPL and refinement training
 * loops one after the other in one process (as the activity child runs them), on synthetic
 * images, printing the process RSS, the JS heap, external memory and TF's live tensors every
 * `every` steps. Live tensors flat while RSS climbs = native memory outside the tensors (TF's
 * allocator pool, oneDNN's caches, glibc). Allocator settings are tried through the environment:
 *   [ONEDNN_PRIMITIVE_CACHE_CAPACITY=16] [MALLOC_ARENA_MAX=2] \
 *     npx tsx bench/profiling/rss-stages.ts [sslSteps=40] [tplSteps=400] [refineSteps=200] [every=50]
 * Prints one JSON line last: the RSS after each stage and the peak (maxRSS).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../infra/tf-backend';
import { Prng } from '../../ml/core/prng';
import { resolveProfile } from '../../ml/profiles';
import { createRefineTrainer } from '../../ml/refine';
import { createSslTrainer } from '../../ml/ssl';
import { createTplTrainer } from '../../ml/tpl';
import { randomLandmarks, syntheticImages } from '../synthetic';

const [sslSteps, tplSteps, refineSteps, every] = [40, 400, 200, 50].map((d, i) => Number(process.argv[2 + i] ?? d));
const LANDMARKS = 19;
const IMAGES = 150;
await initBackend();
const profile = resolveProfile('cpu');
const MiB = (b: number) => Math.round(b / 2 ** 20);
// The process's peak RSS, as bench.ts reads it (maxRSS is in KiB).
const hwmMiB = () => MiB(process.resourceUsage().maxRSS * 1024);
function sample(stage: string, step: number): number {
  const m = process.memoryUsage();
  const t = tf.memory();
  console.log(`${stage} step ${step}: rss ${MiB(m.rss)} MiB (peak ${hwmMiB()}), heap ${MiB(m.heapUsed)}, external ${MiB(m.external)}, tensors ${t.numTensors} / ${MiB(t.numBytes)} MiB`);
  return MiB(m.rss);
}
async function loop(stage: string, steps: number, train: () => Promise<unknown>): Promise<number> {
  for (let s = 1; s <= steps; s++) {
    await train();
    if (s % every === 0) sample(stage, s);
  }
  return sample(stage, steps);
}

const prng = Prng.fromSeed(2022);
const S = profile.inputSize;
const images = syntheticImages(IMAGES, S, prng);
const template = images[0]!;
const templateLandmarks = randomLandmarks(LANDMARKS, S, prng);
const after: Record<string, number> = { start: sample('start', 0) };

const ssl = await createSslTrainer({ profile, images, seed: 1 });
after.ssl = await loop('ssl', sslSteps, () => ssl.train(1));
ssl.dispose();

const pseudo = images.map(() => randomLandmarks(LANDMARKS, S, prng));
const tpl = await createTplTrainer({ profile, images, pseudoLabels: pseudo, template, templateLandmarks, seed: 1 });
after.tpl = await loop('tpl', tplSteps, () => tpl.train(1));
tpl.dispose();

const refine = profile.refine!;
const F = refine.inputSize;
const fine = syntheticImages(IMAGES, F, prng);
const fineLabels = fine.map(() => randomLandmarks(LANDMARKS, F, prng));
const refiner = await createRefineTrainer({ refine, images: fine.slice(1), labels: fineLabels.slice(1), template: fine[0]!, templateLandmarks: fineLabels[0]!, seed: 1 });
after.refine = await loop('refine', refineSteps, () => refiner.train(1));
refiner.dispose();

console.log(JSON.stringify({ rssAfterMiB: after, peakMiB: hwmMiB(), steps: { ssl: sslSteps, tpl: tplSteps, refine: refineSteps } }));
