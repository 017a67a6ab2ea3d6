/**
 * Per-kernel time of one SSL training step (not a test; run by hand):
 *   npx tsx bench/profiling/ssl-profile-step.ts [profile=cpu]
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../infra/tf-backend';
import { resolveProfile } from '../../ml/profiles';
import { Prng } from '../../ml/core/prng';
import { SslNetwork } from '../../ml/ssl/network';
import { BatchNormStats } from '../../ml/core/layers';
import { sslLoss } from '../../ml/ssl/loss';
import { makeSslBatch, sslSampleConfig } from '../../ml/data/ssl-sample';
import { syntheticImages } from '../synthetic';

await initBackend();
const profile = resolveProfile(process.argv[2] ?? 'cpu');
const S = profile.inputSize;
const images = syntheticImages(4, S, 3);
const net = SslNetwork.create({ width: profile.ssl.width, embedDim: profile.ssl.embedDim, useRfb: profile.ssl.useRfb }, Prng.fromSeed(1));
const prng = Prng.fromSeed(2);
const cfg = sslSampleConfig(S, profile.ssl);
const vars = [...net.params.trainable.values()];
const B = profile.ssl.batchSize;
function step(): void {
  const batch = makeSslBatch(images, Array.from({ length: B }, (_, i) => i % images.length), prng, cfg);
  const bnStats = new BatchNormStats();
  const { value, grads } = tf.variableGrads(() => {
    const img = tf.tensor4d(batch.images, [B, S, S, 1]);
    const patch = tf.tensor4d(batch.patches, [B, S / 2, S / 2, 1]);
    const a = net.forward(img, { training: true, bnStats });
    const b = net.forward(patch, { training: true, bnStats });
    return sslLoss(a, b, batch, { temperature: 0.1, window: profile.ssl.window, distanceBias: false }).total;
  }, vars);
  bnStats.apply();
  value.dataSync();
  tf.dispose([value, ...Object.values(grads)]);
}
for (let i = 0; i < 2; i++) step();
let t = performance.now();
for (let i = 0; i < 3; i++) step();
console.log(`grad step (no optimizer) ${((performance.now() - t) / 3).toFixed(0)} ms`);
t = performance.now();
for (let i = 0; i < 3; i++) tf.tidy(() => { const x = tf.zeros([B, S, S, 1]) as tf.Tensor4D; const o = net.forward(x, { training: true }); o[0].dataSync(); });
console.log(`forward image only ${((performance.now() - t) / 3).toFixed(0)} ms`);
const prof = await tf.profile(() => step());
const agg = new Map<string, { ms: number; n: number }>();
let total = 0;
for (const k of prof.kernels) {
  const ms = await k.kernelTimeMs as number;
  total += ms;
  const key = `${k.name} ${k.name.startsWith('Conv') ? JSON.stringify(k.inputShapes) : ''}`;
  const e = agg.get(k.name) ?? { ms: 0, n: 0 };
  e.ms += ms; e.n += 1; agg.set(k.name, e);
  void key;
}
console.log(`kernels ${prof.kernels.length}, total kernel ms ${total.toFixed(0)}`);
for (const [name, e] of [...agg].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) console.log(`${name.padEnd(28)} ${e.ms.toFixed(1).padStart(8)} ms  x${e.n}`);
if (process.argv.includes('--convs')) {
  const convs = new Map<string, { ms: number; n: number }>();
  for (const k of prof.kernels) {
    if (!k.name.startsWith('Conv2D')) continue;
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    const e = convs.get(key) ?? { ms: 0, n: 0 };
    e.ms += (await k.kernelTimeMs) as number; e.n += 1; convs.set(key, e);
  }
  for (const [name, e] of [...convs].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30)) console.log(`${e.ms.toFixed(1).padStart(8)} ms x${e.n} ${name}`);
}

// Optimizer cost alone.
{
  const { AdamL2 } = await import('../../ml/core/adam-l2');
  const opt = new AdamL2(net.params.trainable, { weightDecay: 1e-4 });
  const grads: Record<string, tf.Tensor> = {};
  for (const [n, v] of net.params.trainable) grads[n] = tf.onesLike(v);
  opt.apply(grads, 1e-3);
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) opt.apply(grads, 1e-3);
  await net.params.get('head1/b').data();
  console.log(`adam apply ${((performance.now() - t0) / 5).toFixed(1)} ms over ${net.params.trainable.size} params, ${net.params.count()} scalars`);
  const t1 = performance.now();
  for (let i = 0; i < 5; i++) makeSslBatch(images, Array.from({ length: B }, (_, i) => i % images.length), prng, cfg);
  console.log(`batch generation ${((performance.now() - t1) / 5).toFixed(1)} ms`);
}
