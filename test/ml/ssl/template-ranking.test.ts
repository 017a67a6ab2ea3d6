import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Prng } from '../../../ml/core/prng';
import { resolveProfile } from '../../../ml/profiles';
import { cycleGrid, cycleScores, EmbeddingBank, embedIntoBank, labelRoundTrips, medoidScores, rankByScore, SslMatcher, templateScores } from '../../../ml/ssl';
import type { ImageEmbeddings } from '../../../ml/ssl';
import { encodeSslWeights, SslNetwork } from '../../../ml/ssl/network';
import type { GrayImage, PointYX } from '../../../ml/types';

const S = 16;

/** Level k (1..5) of an S×S image: (S >> k)² cells; `vec(level, cell)` gives each cell's vector. */
function embeddings(dim: number, vec: (level: number, cell: number, h: number, w: number) => number[]): ImageEmbeddings {
  return {
    inputSize: S,
    levels: [1, 2, 3, 4, 5].map((level) => {
      const h = Math.max(1, S >> level);
      const data = new Float32Array(h * h * dim);
      for (let c = 0; c < h * h; c++) data.set(vec(level, c, h, h), c * dim);
      return { level, height: h, width: h, dim, data };
    }),
  };
}

/** Every cell its own one-hot vector: matching finds a point's own cell again. */
const structured = () => embeddings(64, (_l, cell) => Array.from({ length: 64 }, (_, i) => (i === cell ? 1 : 0)));
const noisy = (seed: number) => {
  const prng = Prng.fromSeed(seed);
  return embeddings(64, () => Array.from({ length: 64 }, () => prng.next()));
};

/** The smoke profile's SSL network with random weights, and three random images of its input size. */
async function smokeNetAndImages(imageSeed: number): Promise<{ profile: ReturnType<typeof resolveProfile>; weights: Uint8Array; images: GrayImage[] }> {
  const profile = resolveProfile('smoke');
  const P = profile.inputSize;
  const net = SslNetwork.create({ width: profile.ssl.width, embedDim: profile.ssl.embedDim, useRfb: profile.ssl.useRfb }, Prng.fromSeed(3));
  const weights = await encodeSslWeights(net, P);
  net.dispose();
  const prng = Prng.fromSeed(imageSeed);
  const images: GrayImage[] = Array.from({ length: 3 }, () => ({ height: P, width: P, data: Float32Array.from({ length: P * P }, () => prng.next()) }));
  return { profile, weights, images };
}

function withBank<T>(embs: ImageEmbeddings[], fn: (bank: EmbeddingBank) => Promise<T>): Promise<T> {
  const bank = EmbeddingBank.create(embs);
  return fn(bank).finally(() => bank.dispose());
}

describe('template ranking (label-free scores on SSL embeddings)', () => {
  it('cycleGrid: side² distinct points inside the central 3/4', () => {
    const g = cycleGrid(192, 5);
    expect(g).toHaveLength(25);
    expect(new Set(g.map((p) => p.join())).size).toBe(25);
    for (const [y, x] of g) for (const v of [y, x]) expect(v >= 24 && v < 168).toBe(true);
    expect(() => cycleGrid(192, 0)).toThrow(/side/);
  });

  it('a bank describes and matches exactly as SslMatcher does (same points, no tensor leaked)', async () => {
    const { profile, weights, images } = await smokeNetAndImages(4);
    const landmarks: PointYX[] = [[5, 7], [30, 40], [63, 0]];
    const matcher = SslMatcher.create(profile, weights);
    const before = tf.memory().numTensors;
    try {
      const embs = await Promise.all(images.map((img) => matcher.embed(img)));
      const expected = await matcher.matchEmbeddings(await matcher.describeTemplate(images[0]!, landmarks), embs.slice(1));
      const bank = await embedIntoBank(matcher, images.length, async (a, b) => images.slice(a, b), undefined, 2);
      const desc = bank.describe(0, landmarks);
      expect(await bank.match(desc, [1, 2])).toEqual(expected);
      tf.dispose(desc);
      bank.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      matcher.dispose();
    }
  });

  it('label round trips: where a label lands back in the template, measured from the template landmark; as SslMatcher matches back', async () => {
    // Identical one-hot embeddings: a label comes back to its own level-1 cell (2 × 2 px), so its
    // round trip is its distance from the template landmark, within that cell.
    const landmarks: PointYX[] = [[2, 2], [8, 10], [14, 4]];
    await withBank([structured(), structured()], async (bank) => {
      const trips = await labelRoundTrips(bank, 0, landmarks, [{ index: 1, points: landmarks }, { index: 1, points: [[2, 2], [12, 10], [14, 10]] }]);
      [[0, 0, 0], [0, 4, 6]].forEach((row, i) => row.forEach((d, k) => expect(Math.abs(trips[i]![k]! - d)).toBeLessThanOrEqual(Math.SQRT2)));
      await expect(labelRoundTrips(bank, 0, landmarks, [{ index: 1, points: landmarks.slice(1) }])).rejects.toThrow(/image 1 has 2 labels, the template 3 landmarks/);
    });

    const { profile, weights, images } = await smokeNetAndImages(5);
    const tplLandmarks: PointYX[] = [[5, 7], [30, 40], [63, 0]];
    const labels: PointYX[][] = [[[9, 3], [28, 44], [60, 8]], [[1, 1], [40, 33], [50, 5]]];
    const matcher = SslMatcher.create(profile, weights);
    const before = tf.memory().numTensors;
    try {
      const expected: number[][] = [];
      for (const [n, pts] of labels.entries()) {
        const [back] = await matcher.matchImages(images[n + 1]!, pts, [images[0]!]);
        expected.push(back!.map(([y, x], k) => Math.hypot(y - tplLandmarks[k]![0], x - tplLandmarks[k]![1])));
      }
      const bank = await embedIntoBank(matcher, images.length, async (a, b) => images.slice(a, b));
      expect(await labelRoundTrips(bank, 0, tplLandmarks, labels.map((points, n) => ({ index: n + 1, points })))).toEqual(expected);
      bank.dispose();
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      matcher.dispose();
    }
  });

  it('medoid: the mean pooled cosine to the others, as computed by hand', async () => {
    const embs = [structured(), noisy(1), noisy(2)];
    const pooled = embs.map((e) => e.levels.map((l) => {
      const m = new Array<number>(l.dim).fill(0);
      for (let c = 0; c < l.height * l.width; c++) for (let i = 0; i < l.dim; i++) m[i]! += l.data[c * l.dim + i]! / (l.height * l.width);
      const n = Math.hypot(...m);
      return m.map((v) => v / n);
    }));
    const cos = (a: number, b: number) => pooled[a]!.reduce((s, lv, k) => s + lv.reduce((t, v, i) => t + v * pooled[b]![k]![i]!, 0), 0) / 5;
    const want = [0, 1, 2].map((a) => [0, 1, 2].filter((b) => b !== a).reduce((s, b) => s + cos(a, b), 0) / 2);
    const got = await withBank(embs, medoidScores);
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 5));
    // The two noisy images resemble each other more than the structured one.
    expect(got[0]!).toBeLessThan(Math.min(got[1]!, got[2]!));
  });

  it('cycle: points of consistent images come back (small round trip); an inconsistent image scores worst', async () => {
    const consistent = await withBank([structured(), structured(), structured()], (bank) => cycleScores(bank, { gridSide: 3 }));
    for (const s of consistent) expect(s).toBeLessThan(1.5);
    const embs = [structured(), structured(), structured(), noisy(7)];
    const scores = await withBank(embs, (bank) => cycleScores(bank, { gridSide: 3, partners: 3 }));
    expect(scores).toHaveLength(4);
    expect(scores[3]!).toBeGreaterThan(Math.max(...scores.slice(0, 3)));
    const progress: number[] = [];
    await withBank(embs, (bank) => cycleScores(bank, { gridSide: 2, partners: 1, onProgress: (d) => progress.push(d) }));
    expect(progress).toEqual([1, 2, 3, 4]);
  });

  it('templateScores gives every score for every image; a cancelled candidate loop stops', async () => {
    const embs = [structured(), noisy(1), structured()];
    const scores = await withBank(embs, (bank) => templateScores(bank, { gridSide: 2 }));
    expect(Object.keys(scores).sort()).toEqual(['cycle', 'medoid']);
    expect(scores.cycle).toHaveLength(3);
    expect(scores.medoid).toHaveLength(3);
    await expect(withBank(embs, (bank) => cycleScores(bank, { beforeCandidate: () => { throw new Error('cancelled'); } }))).rejects.toThrow('cancelled');
  });

  it('rankByScore: best first in either direction, ties by index; refuses non-finite scores', () => {
    expect(rankByScore([3, 1, 2, 1], false).map((r) => [r.index, r.rank])).toEqual([[1, 1], [3, 2], [2, 3], [0, 4]]);
    expect(rankByScore([3, 1, 2], true).map((r) => r.index)).toEqual([0, 2, 1]);
    expect(() => rankByScore([1, Number.NaN], true)).toThrow(/not finite/);
  });

  it('refuses banks of mixed shapes and out-of-range indices', async () => {
    const small = embeddings(8, () => new Array<number>(8).fill(1));
    expect(() => EmbeddingBank.create([structured(), small])).toThrow(/differ in shape/);
    expect(() => EmbeddingBank.create([])).toThrow(/no embeddings/);
    await withBank([structured()], async (bank) => {
      expect(() => bank.describe(1, [[0, 0]])).toThrow(/outside/);
      await expect(medoidScores(bank)).rejects.toThrow(/at least 2/);
    });
  });
});
