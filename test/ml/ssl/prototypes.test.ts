/**
 * Prototype matching (ml/ssl/matching.ts, docs/method.md#prototypes): the descriptor of one round
 * equals a JS reference built from the pool's embeddings at its round-0 matches; the finest levels
 * keep the template's vectors; shards still agree row for row; the pool is embedded once for all
 * rounds and the final matching (fewer forward passes, the same points); bad settings are refused; no leak.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { resolveProfile } from '../../../ml/profiles';
import { matchTemplate, prototypeDescriptor, prototypePoolIds, prototypeSettingsOf, SslMatcher } from '../../../ml/ssl';
import type { TemplateDescriptor } from '../../../ml/ssl';
import type { PointYX } from '../../../ml/types';
import { smokeSslWeights, texturedImages } from './support';

const profile = resolveProfile('smoke', { ssl: { useRfb: true, prototypeRounds: 1, prototypeFromLevel: 2 } });
const S = profile.inputSize;

function unit(v: ArrayLike<number>): number[] {
  const n = Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
  return Array.from(v, (x) => x / n);
}

describe('prototypeDescriptor', () => {
  const template: TemplateDescriptor = { numLandmarks: 2, dim: 2, levels: [1, 2, 3, 4, 5].map((l) => new Float32Array([2 * l, 0, 0, 3])) };

  it('is the unit mean direction of the template vector and the pool sums at levels >= fromLevel, the template below', () => {
    const sums = [1, 2, 3, 4, 5].map(() => new Float32Array([0, 1, 2, 0])); // pool: one unit vector per landmark, orthogonal to the template's
    const got = prototypeDescriptor(template, sums, 3);
    expect(got.levels[0]).toBe(template.levels[0]);
    expect(got.levels[1]).toBe(template.levels[1]);
    for (const l of [2, 3, 4]) {
      // landmark 0: unit(1, 0) + (0, 1) → (1, 1)/√2; landmark 1: unit(0, 1) + (2, 0) → (2, 1)/√5
      expect(Array.from(got.levels[l]!)).toEqual([...unit([1, 1]), ...unit([2, 1])].map((v) => Math.fround(v)));
    }
  });

  it('keeps the template direction when the pool is empty, and refuses mismatched sums', () => {
    const zero = [1, 2, 3, 4, 5].map(() => new Float32Array(4));
    expect(Array.from(prototypeDescriptor(template, zero, 1).levels[4]!)).toEqual([1, 0, 0, 1]);
    expect(() => prototypeDescriptor(template, zero.slice(1), 1)).toThrow(/4 levels of sums for 5/);
    expect(() => prototypeDescriptor(template, [...zero.slice(1), new Float32Array(3)], 1)).toThrow(/level 5 sums have 3 values, expected 4/);
  });
});

describe('prototype matching', () => {
  it('each round equals a JS reference: the template vectors plus the pool at the previous round\'s matches', async () => {
    const weights = await smokeSslWeights(profile, 31);
    const [template, ...pool] = texturedImages(6, S, 77);
    const landmarks: PointYX[] = [[10, 50], [33, 12], [63, 0], [40, 41.7]];
    const matcher = SslMatcher.create(profile, weights);
    try {
      const own = await matcher.describeTemplate(template!, landmarks);
      const embeddings = await matcher.embedMany(pool);
      const K = landmarks.length;
      const D = own.dim;
      /** One round in plain JS: unit(unit(template) + Σ unit(pool vector at its match)) at levels >= 2. */
      const reference = (matches: PointYX[][]) => own.levels.map((t, i) => {
        if (i + 1 < 2) return Array.from(t);
        return landmarks.flatMap((_, k) => {
          const mean = unit(t.subarray(k * D, (k + 1) * D));
          embeddings.forEach((e, n) => {
            const l = e.levels[i]!;
            const [y, x] = matches[n]![k]!;
            const cy = Math.min(y >> l.level, l.height - 1);
            const cx = Math.min(x >> l.level, l.width - 1);
            unit(l.data.subarray((cy * l.width + cx) * D, (cy * l.width + cx + 1) * D)).forEach((v, d) => (mean[d]! += v));
          });
          return unit(mean);
        });
      });
      const expectClose = (got: TemplateDescriptor, expected: number[][]) => {
        expect(got.numLandmarks).toBe(K);
        expect(Array.from(got.levels[0]!)).toEqual(Array.from(own.levels[0]!)); // level 1 keeps the template's vector
        for (let i = 1; i < 5; i++) {
          const g = Array.from(got.levels[i]!);
          expect(g).toHaveLength(K * D);
          g.forEach((v, j) => expect(Math.abs(v - expected[i]![j]!)).toBeLessThan(1e-5));
        }
      };
      const round1 = await matcher.describePrototypes(template!, landmarks, pool, { rounds: 1, fromLevel: 2 });
      expectClose(round1, reference(await matcher.matchImages(template!, landmarks, pool)));
      // The prototypes really moved away from the template's vectors (the fault of ignoring the pool fails here).
      for (let i = 1; i < 5; i++) {
        const t = own.levels[i]!;
        const moved = Array.from(round1.levels[i]!).map((v, j) => Math.abs(v - unit(t.subarray(Math.floor(j / D) * D, (Math.floor(j / D) + 1) * D))[j % D]!));
        expect(Math.max(...moved)).toBeGreaterThan(1e-3);
      }
      // Round 2 matches with round 1's vectors and averages onto the template's own, not onto round 1's.
      const round1Matches = await matcher.matchDescribed(round1, pool);
      expect(round1Matches).not.toEqual(await matcher.matchImages(template!, landmarks, pool)); // the rounds differ on this fixture
      expectClose(await matcher.describePrototypes(template!, landmarks, pool, { rounds: 2, fromLevel: 2 }), reference(round1Matches));
      // rounds = 0 is the template's own descriptor.
      expect(await matcher.describePrototypes(template!, landmarks, pool, { rounds: 0, fromLevel: 2 })).toEqual(own);
      await expect(matcher.describePrototypes(template!, landmarks, pool, { rounds: -1, fromLevel: 2 })).rejects.toThrow(/rounds must be an integer >= 0/);
      await expect(matcher.describePrototypes(template!, landmarks, pool, { rounds: 1, fromLevel: 6 })).rejects.toThrow(/fromLevel must be 1..5/);
    } finally {
      matcher.dispose();
    }
  });

  it('gives identical rows for any shard with the same pool, needs the pool, and does not leak', async () => {
    const weights = await smokeSslWeights(profile, 32);
    const [template, ...images] = texturedImages(7, S, 78);
    const landmarks: PointYX[] = [[12, 20], [50, 44], [31, 31]];
    const p2 = resolveProfile('smoke', { ssl: { useRfb: true, prototypeRounds: 2, prototypeFromLevel: 2 } });
    const base = { profile: p2, weights, template: template!, templateLandmarks: landmarks, pool: images };
    await matchTemplate({ ...base, images }); // warm-up: the first call allocates kernels' caches
    const before = tf.memory().numTensors;
    const poolProgress: Array<[number, number]> = [];
    const all = await matchTemplate({ ...base, images, onPoolChunk: (d, t) => poolProgress.push([d, t]) });
    // Two rounds over the 6 pool images, EMBED_BATCH (4) a pass.
    expect(poolProgress).toEqual([[4, 12], [6, 12], [10, 12], [12, 12]]);
    expect(await matchTemplate({ ...base, images: [images[4]!, images[0]!] })).toEqual([all[4], all[0]]);
    expect(await matchTemplate({ ...base, images: [images[5]!] })).toEqual([all[5]]);
    expect(tf.memory().numTensors).toBe(before);
    await expect(matchTemplate({ profile: p2, weights, template: template!, templateLandmarks: landmarks, images })).rejects.toThrow(/prototypeRounds is 2, but no pool/);
  });

  it('embeds the pool once for every round and the final matching, with the same points as embedding it again each time', async () => {
    const weights = await smokeSslWeights(profile, 33);
    const [template, ...pool] = texturedImages(11, S, 79); // 10 pool images: 3 chunks of EMBED_BATCH (4)
    const landmarks: PointYX[] = [[9, 14], [47, 40], [30, 58]];
    const opts = { rounds: 2, fromLevel: 2 };
    const matcher = SslMatcher.create(profile, weights);
    try {
      const images = [pool[7]!, template!, pool[2]!, pool[3]!, pool[9]!, pool[0]!]; // members in another order, and one that is not
      // Reference: describe (embedding the pool each round), then embed and match the images again.
      const expected = await matcher.matchDescribed(await matcher.describePrototypes(template!, landmarks, pool, { ...opts, keptPoolBytes: 0 }), images);
      const before = tf.memory().numTensors;
      const p0 = matcher.forwardPasses;
      expect(await matcher.matchWithPrototypes(template!, landmarks, pool, images, opts)).toEqual(expected);
      // Template once, the 3 pool chunks once; of the images' 2 chunks the one holding the template is embedded.
      expect(matcher.forwardPasses - p0).toBe(1 + 3 + 1);
      // A budget of one chunk keeps the first chunk only: the other two are embedded in each round.
      const chunkBytes = (await matcher.embedMany(pool.slice(0, 4))).reduce((n, e) => n + e.levels.reduce((m, l) => m + l.data.length * 4, 0), 0);
      const p1 = matcher.forwardPasses;
      expect(await matcher.matchWithPrototypes(template!, landmarks, pool, images, { ...opts, keptPoolBytes: chunkBytes })).toEqual(expected);
      expect(matcher.forwardPasses - p1).toBe(1 + 3 + 2 + 2);
      // No budget: the same points, every chunk embedded each time it is needed.
      const p2 = matcher.forwardPasses;
      expect(await matcher.matchWithPrototypes(template!, landmarks, pool, images, { ...opts, keptPoolBytes: 0 })).toEqual(expected);
      expect(matcher.forwardPasses - p2).toBe(1 + 3 + 3 + 2);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      matcher.dispose();
    }
  });

  it('settings: a stored profile without the fields has no rounds; the pool is sorted, unique, without the template', () => {
    expect(prototypeSettingsOf({})).toEqual({ rounds: 0, fromLevel: 2 });
    expect(prototypeSettingsOf(resolveProfile('cpu').ssl)).toEqual({ rounds: 2, fromLevel: 2 });
    expect(prototypeSettingsOf(resolveProfile('paper').ssl)).toEqual({ rounds: 0, fromLevel: 2 });
    expect(prototypePoolIds(['003', '125', '001', '003', '150'], '125')).toEqual(['001', '003', '150']);
  });
});
