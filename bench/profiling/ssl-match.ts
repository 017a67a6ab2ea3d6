/**
 * Per-image time of cascade matching (not a test; run by hand):
 *   npx tsx bench/profiling/ssl-match.ts [profile=cpu] [images=12] [landmarks=19]
 * Random-init weights; synthetic images, which are also the prototypes' pool.
 */
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { initBackend } from '../../infra/tf-backend';
import { Prng } from '../../ml/core/prng';
import { resolveProfile } from '../../ml/profiles';
import { matchTemplate } from '../../ml/ssl';
import { encodeSslWeights, SslNetwork } from '../../ml/ssl/network';
import { randomLandmarks, syntheticImages } from '../synthetic';

await initBackend();
const profile = resolveProfile(process.argv[2] ?? 'cpu');
const n = Number(process.argv[3] ?? 12);
const K = Number(process.argv[4] ?? 19);
const S = profile.inputSize;
const prng = Prng.fromSeed(1);
const images = syntheticImages(n + 1, S, prng);
const landmarks = randomLandmarks(K, S, prng);
const net = SslNetwork.create({ width: profile.ssl.width, embedDim: profile.ssl.embedDim, useRfb: profile.ssl.useRfb }, Prng.fromSeed(2));
const weights = await encodeSslWeights(net, S);
net.dispose();
await matchTemplate({ profile, weights, template: images[0]!, templateLandmarks: landmarks, images: images.slice(1, 3), pool: images.slice(1, 3) }); // warm-up
const before = tf.memory().numTensors;
const c0 = process.cpuUsage();
const t0 = performance.now();
// The images are also the prototypes' pool, as in pseudo-labelling (profile.ssl.prototypeRounds passes first).
await matchTemplate({ profile, weights, template: images[0]!, templateLandmarks: landmarks, images: images.slice(1), pool: images.slice(1) });
const ms = performance.now() - t0;
const c = process.cpuUsage(c0);
console.log(JSON.stringify({ profile: profile.name, inputSize: S, landmarks: K, images: n, msPerImage: +(ms / n).toFixed(1), cpuMsPerImage: +((c.user + c.system) / 1000 / n).toFixed(1), leakedTensors: tf.memory().numTensors - before, loadavg: os.loadavg().map((v) => v.toFixed(2)).join(' ') }));
