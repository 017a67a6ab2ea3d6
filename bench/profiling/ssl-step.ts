/**
 * Median SSL training-step time on this machine (not a test; run by hand):
 *   npx tsx bench/profiling/ssl-step.ts [profile=cpu] [steps=12] ['<profile overrides JSON>', e.g. '{"ssl":{"useRfb":false}}']
 * Uses synthetic images; the first 2 steps are warm-up and not counted.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../infra/tf-backend';
import { resolveProfile } from '../../ml/profiles';
import { createSslTrainer } from '../../ml/ssl';
import { syntheticImages } from '../synthetic';

const info = await initBackend();
const profile = resolveProfile(process.argv[2] ?? 'cpu', process.argv[4] ? JSON.parse(process.argv[4]) : {});
const steps = Number(process.argv[3] ?? 12);
const S = profile.inputSize;
const images = syntheticImages(6, S, 2022);
const trainer = await createSslTrainer({ profile, images, seed: 2022 });
const times: number[] = [];
const cpuTimes: number[] = [];
let t0 = performance.now();
let c0 = process.cpuUsage();
await trainer.train(steps, (p) => {
  const t1 = performance.now();
  const c = process.cpuUsage(c0);
  times.push(t1 - t0);
  cpuTimes.push((c.user + c.system) / 1000);
  console.log(`step ${p.step} ${(t1 - t0).toFixed(0)} ms wall, ${((c.user + c.system) / 1000).toFixed(0)} ms cpu, loss ${p.loss.toFixed(4)}`);
  t0 = performance.now();
  c0 = process.cpuUsage();
});
const counted = times.slice(2).sort((a, b) => a - b);
const median = counted[Math.floor(counted.length / 2)]!;
const cpuCounted = cpuTimes.slice(2).sort((a, b) => a - b);
const cpuMedian = cpuCounted[Math.floor(cpuCounted.length / 2)]!;
console.log(JSON.stringify({ backend: info.backend, profile: profile.name, inputSize: S, width: profile.ssl.width, batch: profile.ssl.batchSize, steps: counted.length, medianMs: Math.round(median), medianCpuMs: Math.round(cpuMedian), loadavg: (await import('node:os')).loadavg().map((v) => v.toFixed(2)).join(' '), minMs: Math.round(counted[0]!), maxMs: Math.round(counted[counted.length - 1]!), numTensors: tf.memory().numTensors }));
trainer.dispose();
