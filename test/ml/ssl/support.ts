/** Small SSL fixtures shared by the matching tests: textured images and smoke-sized weights. */
import * as tf from '@tensorflow/tfjs';
import { Prng } from '../../../ml/core/prng';
import type { Profile } from '../../../ml/profiles';
import { encodeSslWeights, SslNetwork } from '../../../ml/ssl/network';
import type { GrayImage } from '../../../ml/types';

/** n S×S images of seeded sinusoidal texture plus noise, values in [0, 1]. */
export function texturedImages(n: number, S: number, seed: number): GrayImage[] {
  const prng = Prng.fromSeed(seed);
  return Array.from({ length: n }, () => {
    const data = new Float32Array(S * S);
    const fy = 3 + 6 * prng.next();
    const fx = 3 + 6 * prng.next();
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) data[y * S + x] = Math.min(1, Math.max(0, 0.5 + 0.3 * Math.sin(y / fy) * Math.cos(x / fx) + 0.2 * (prng.next() - 0.5)));
    return { height: S, width: S, data };
  });
}

/** Inference weights of a seeded, randomly initialised SSL network of the profile's shape. */
export async function smokeSslWeights(profile: Profile, seed: number): Promise<Uint8Array> {
  const S = profile.inputSize;
  const net = SslNetwork.create({ width: profile.ssl.width, embedDim: profile.ssl.embedDim, useRfb: profile.ssl.useRfb }, Prng.fromSeed(seed));
  // A few training-mode passes give non-trivial BN running statistics.
  for (const img of texturedImages(2, S, seed)) tf.tidy(() => net.forward(tf.tensor4d(img.data, [1, S, S, 1]), { training: true }));
  const bytes = await encodeSslWeights(net, S);
  net.dispose();
  return bytes;
}
