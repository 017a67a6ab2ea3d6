/**
 * Interleaved A/B of the SSL training step: an old copy of the code against this tree, in ONE
 * process, alternating one step of each, so machine load hits both sides alike (not a test):
 *
 *   mkdir /tmp/ab-old && git archive <base> ml infra | tar -x -C /tmp/ab-old && ln -s "$PWD/node_modules" /tmp/ab-old/
 *   sed -i 's/`${name}_${variableSerial++}`/`ab-old\/${name}_${variableSerial++}`/' /tmp/ab-old/ml/core/params.ts
 *   AB_OLD=/tmp/ab-old npx tsx bench/profiling/ab-ssl.ts [profile=cpu] [steps=50]
 *
 * (the sed keeps the two copies' variable names apart: each numbers its variables from 0).
 * Both trainers start from the same seed and images (the bench's synthetic ones), so their loss
 * trajectories are comparable step by step: it prints both, the largest relative difference, and
 * the median step time of each side (the first 2 steps are warm-up and not counted).
 * `--noise-baseline`: both sides run the OLD code, the second on images nudged by about one ulp,
 * which shows how far float noise alone moves the trajectory (Adam turns noise-level gradients,
 * e.g. of parameters whose exact gradient is zero, into full-size steps of random sign).
 */
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../../infra/tf-backend';
import { resolveProfile } from '../../ml/profiles';
import * as current from '../../ml/ssl';
import { syntheticImages } from '../synthetic';

const oldDir = process.env.AB_OLD;
if (!oldDir) throw new Error('AB_OLD: set it to a copy of the old tree (see the header of this file)');
const old = (await import(path.join(path.resolve(oldDir), 'ml/ssl/index.ts'))) as typeof current;

const info = await initBackend();
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const noiseBaseline = process.argv.includes('--noise-baseline');
const profile = resolveProfile(args[0] ?? 'cpu');
const steps = Number(args[1] ?? 50);
const images = syntheticImages(8, profile.inputSize, 2022);
const nudged = images.map((img) => ({ ...img, data: img.data.map((v) => Math.min(1, v * (1 + 2 ** -23))) }));
const sides = [
  { name: 'old', trainer: await old.createSslTrainer({ profile, images, seed: 1 }), ms: [] as number[], loss: [] as number[] },
  {
    name: noiseBaseline ? 'old, nudged' : 'new',
    trainer: noiseBaseline ? await old.createSslTrainer({ profile, images: nudged, seed: 1 }) : await current.createSslTrainer({ profile, images, seed: 1 }),
    ms: [] as number[], loss: [] as number[],
  },
];
for (let i = 0; i < steps; i++) {
  // Alternate which side goes first, so neither always runs right after the other's frees.
  for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
    const t0 = performance.now();
    const p = await side.trainer.train(1);
    side.ms.push(performance.now() - t0);
    side.loss.push(p.loss);
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]];
let maxRel = 0;
for (let i = 0; i < steps; i++) {
  const rel = Math.abs(a.loss[i]! - b.loss[i]!) / Math.max(Math.abs(a.loss[i]!), 1e-12);
  maxRel = Math.max(maxRel, rel);
  if (i < 5 || i % 10 === 9) console.log(`step ${String(i + 1).padStart(3)}  loss ${a.name} ${a.loss[i]!.toFixed(6)}  ${b.name} ${b.loss[i]!.toFixed(6)}  rel diff ${rel.toExponential(2)}`);
}
const oldMs = median(a.ms.slice(2));
const newMs = median(b.ms.slice(2));
console.log(JSON.stringify({
  sides: [a.name, b.name], backend: info.backend, cpu: os.cpus()[0]?.model, profile: profile.name, steps,
  loadavg: os.loadavg().map((v) => Number(v.toFixed(2))),
  oldMedianMs: Math.round(oldMs), newMedianMs: Math.round(newMs), speedup: Number((oldMs / newMs).toFixed(3)),
  maxRelLossDiff: maxRel, finalLoss: { old: a.loss[steps - 1], new: b.loss[steps - 1] },
}));
for (const s of sides) s.trainer.dispose();
