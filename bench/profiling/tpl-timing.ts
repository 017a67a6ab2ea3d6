/**
 * Timing of the TPL stage on the active backend (not a test; nothing is asserted):
 *   npx tsx bench/profiling/tpl-timing.ts [profile=cpu] [steps=12] [inferImages=16] [chunk=4]
 * Prints the median training-step time (after 2 warm-up steps) and inference ms per image.
 */
import { initBackend } from '../../infra/tf-backend';
import * as tf from '@tensorflow/tfjs';
import { Prng } from '../../ml/core/prng';
import { resolveProfile } from '../../ml/profiles';
import type { PointYX } from '../../ml/types';
import { createTplPredictor, createTplTrainer } from '../../ml/tpl';
import { randomLandmarks, syntheticImages } from '../synthetic';

const [profileName = 'cpu', stepsArg = '12', inferArg = '16', chunkArg = '4'] = process.argv.slice(2);
const chunkSize = Number(chunkArg);
const info = await initBackend();
const profile = resolveProfile(profileName);
const s = profile.inputSize;
const K = 19;
const prng = Prng.fromSeed(7);
const pts = (): PointYX[] => randomLandmarks(K, s, prng);
const [template, ...images] = syntheticImages(9, s, prng);
const trainer = await createTplTrainer({
  profile, images, pseudoLabels: images.map(pts), template: template!, templateLandmarks: pts(), seed: 1,
});
const steps = Number(stepsArg);
const times: number[] = [];
const cpuTimes: number[] = [];
let t0 = performance.now();
let c0 = process.cpuUsage();
await trainer.train(steps + 2, (p) => {
  const t = performance.now();
  const c = process.cpuUsage(c0);
  if (p.step > 2) {
    times.push(t - t0);
    cpuTimes.push((c.user + c.system) / 1000);
  }
  t0 = t;
  c0 = process.cpuUsage();
});
cpuTimes.sort((a, b) => a - b);
times.sort((a, b) => a - b);
const med = times[Math.floor(times.length / 2)]!;
console.log(`backend ${info.backend} (TF ${info.tfVersion}); profile ${profile.name}: input ${s}, width ${profile.tpl.width}, batch ${profile.tpl.batchPseudo}+1, K ${K}`);
console.log(`train step: median ${med.toFixed(0)} ms, min ${times[0]!.toFixed(0)}, max ${times[times.length - 1]!.toFixed(0)} over ${times.length} steps; process CPU per step: median ${cpuTimes[Math.floor(cpuTimes.length / 2)]!.toFixed(0)} ms (load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)})`);
const weights = await trainer.exportWeights();
trainer.dispose();
const n = Number(inferArg);
const inf = syntheticImages(n, s, prng);
const tLoad = performance.now();
const predictor = createTplPredictor({ profile, weights, landmarkCount: K, chunkSize });
const loadMs = performance.now() - tLoad;
await predictor.predict(inf.slice(0, chunkSize)); // warm-up
const per: number[] = [];
for (let r = 0; r < 5; r++) {
  const tI = performance.now();
  await predictor.predict(inf);
  per.push((performance.now() - tI) / n);
}
predictor.dispose();
per.sort((a, b) => a - b);
console.log(`inference: median ${per[2]!.toFixed(1)} ms/image (min ${per[0]!.toFixed(1)}) over 5 × ${n} images, chunks of ${chunkSize}, incl. top-K and voting; network load ${loadMs.toFixed(0)} ms once`);
const cpu = process.cpuUsage();
console.log(`process CPU ${(cpu.user / 1e6).toFixed(1)} s user, ${(cpu.system / 1e6).toFixed(1)} s sys`);
console.log(`tensors alive: ${tf.memory().numTensors}`);
