/**
 * Per-kernel wall time of one SSL training step, optimizer included (not a test; run by hand):
 *   npx tsx bench/profiling/ssl-profile-step.ts [profile=cpu] [--shapes]
 * Profiles `trainer.train(1)` of the real trainer after 3 warm-up steps. On the native backend
 * eager kernels run synchronously, so a kernel's time is the wall time of its dispatch and run.
 * customGrad's scopes ("forward", "unnamed scope") are reported apart: their time is already
 * inside the kernels they ran. --shapes adds the top kernels by (name, input shapes).
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../infra/tf-backend';
import { makeSslBatch, sslSampleConfig } from '../../ml/data/ssl-sample';
import { Prng } from '../../ml/core/prng';
import { resolveProfile } from '../../ml/profiles';
import { createSslTrainer } from '../../ml/ssl';
import { syntheticImages } from '../synthetic';

const SCOPES = new Set(['forward', 'unnamed scope']);

const info = await initBackend();
const profile = resolveProfile(process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'cpu');
const S = profile.inputSize;
const images = syntheticImages(6, S, 2022);
const trainer = await createSslTrainer({ profile, images, seed: 2022 });
await trainer.train(3);
const t0 = performance.now();
await trainer.train(3);
const stepMs = (performance.now() - t0) / 3;

const prof = await tf.profile(async () => { await trainer.train(1); return []; });
const byName = new Map<string, { ms: number; n: number }>();
const byShape = new Map<string, { ms: number; n: number }>();
let total = 0;
let count = 0;
for (const k of prof.kernels) {
  const ms = (await k.kernelTimeMs) as number;
  const add = (m: Map<string, { ms: number; n: number }>, key: string) => {
    const e = m.get(key) ?? { ms: 0, n: 0 };
    e.ms += ms;
    e.n += 1;
    m.set(key, e);
  };
  add(byName, k.name);
  if (SCOPES.has(k.name)) continue;
  total += ms;
  count += 1;
  add(byShape, `${k.name} ${JSON.stringify(k.inputShapes)}`);
}
trainer.dispose();

const B = profile.ssl.batchSize;
const cfg = sslSampleConfig(S, profile.ssl);
const prng = Prng.fromSeed(2);
const t1 = performance.now();
for (let i = 0; i < 10; i++) makeSslBatch(images, Array.from({ length: B }, (_, j) => j % images.length), prng, cfg);
const batchMs = (performance.now() - t1) / 10;

console.log(`backend ${info.backend} (TF ${info.tfVersion}), profile ${profile.name}, ${os.cpus()[0]?.model}, load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
console.log(`step (unprofiled, mean of 3) ${stepMs.toFixed(0)} ms; profiled kernels ${count}, their sum ${total.toFixed(0)} ms; batch sampling ${batchMs.toFixed(1)} ms`);
const pct = (ms: number) => `${((100 * ms) / total).toFixed(1).padStart(5)} %`;
for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30)) {
  const note = SCOPES.has(name) ? '  (scope: inside the kernels it ran)' : pct(e.ms);
  console.log(`${name.padEnd(28)} ${e.ms.toFixed(1).padStart(8)} ms x${String(e.n).padEnd(5)} ${note}`);
}
if (process.argv.includes('--shapes')) {
  console.log('\nby input shapes:');
  for (const [key, e] of [...byShape].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40)) console.log(`${e.ms.toFixed(1).padStart(8)} ms x${String(e.n).padEnd(4)} ${key}`);
}
