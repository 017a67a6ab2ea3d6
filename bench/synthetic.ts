/**
 * Synthetic inputs for the bench and profiling scripts: seeded, radiograph-like smooth images
 * (sums of Gaussian blobs plus a little noise) and random landmarks. Timings do not depend on the
 * pixel values, but the nets should see plausible statistics (no all-zero or white-noise inputs).
 */
import { Prng } from '../ml/core/prng';
import type { GrayImage, PointYX } from '../ml/types';

/** `n` size × size images in [0, 1]; `seed` may be a number or a Prng to draw from. */
export function syntheticImages(n: number, size: number, seed: number | Prng): GrayImage[] {
  const prng = typeof seed === 'number' ? Prng.fromSeed(seed) : seed;
  return Array.from({ length: n }, () => {
    const data = new Float32Array(size * size);
    const blobs = Array.from({ length: 12 }, () => ({
      y: prng.uniform(0, size), x: prng.uniform(0, size), r: prng.uniform(size / 20, size / 5), a: prng.uniform(0.2, 0.8),
    }));
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let v = 0.1;
        for (const b of blobs) v += b.a * Math.exp(-((y - b.y) ** 2 + (x - b.x) ** 2) / (2 * b.r * b.r));
        data[y * size + x] = Math.min(1, v + 0.02 * prng.normal());
      }
    }
    return { height: size, width: size, data };
  });
}

/** `k` landmarks, uniform over the size × size grid. */
export function randomLandmarks(k: number, size: number, prng: Prng): PointYX[] {
  return Array.from({ length: k }, () => [prng.int(size), prng.int(size)] as PointYX);
}
