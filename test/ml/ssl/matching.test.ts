import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Prng } from '../../../ml/core/prng';
import { resolveProfile } from '../../../ml/profiles';
import { argmax2d, cascadeSimilarity, matchTemplate, SslMatcher } from '../../../ml/ssl';
import type { ImageEmbeddings, TemplateDescriptor } from '../../../ml/ssl';
import { encodeSslWeights, SslNetwork } from '../../../ml/ssl/network';
import type { PointYX } from '../../../ml/types';
import { smokeSslWeights, texturedImages } from './support';

/** Half-pixel (align-corners false) bilinear upsampling of one channel, written out in JS. */
function upsampleRef(map: Float32Array, h: number, w: number, outH: number, outW: number): Float64Array {
  const out = new Float64Array(outH * outW);
  const axis = (o: number, n: number, outN: number): [number, number, number] => {
    const src = (o + 0.5) * (n / outN) - 0.5;
    const lo = Math.floor(src);
    const f = src - lo;
    return [Math.min(Math.max(lo, 0), n - 1), Math.min(Math.max(lo + 1, 0), n - 1), f];
  };
  for (let y = 0; y < outH; y++) {
    const [y0, y1, fy] = axis(y, h, outH);
    for (let x = 0; x < outW; x++) {
      const [x0, x1, fx] = axis(x, w, outW);
      out[y * outW + x] = (1 - fy) * ((1 - fx) * map[y0 * w + x0]! + fx * map[y0 * w + x1]!) + fy * ((1 - fx) * map[y1 * w + x0]! + fx * map[y1 * w + x1]!);
    }
  }
  return out;
}

/** Reference cascade for one image and landmark from plain embeddings: product map over levels 5..1. */
function cascadeRef(tplVec: Float32Array[], emb: ImageEmbeddings, outH: number, outW: number): Float64Array {
  const prod = new Float64Array(outH * outW).fill(1);
  for (let level = 5; level >= 1; level--) {
    const { height: h, width: w, dim: L, data } = emb.levels[level - 1]!;
    const a = tplVec[level - 1]!;
    const an = Math.sqrt(a.reduce((s, v) => s + v * v, 0));
    const cos = new Float32Array(h * w);
    for (let i = 0; i < h * w; i++) {
      let dot = 0;
      let en = 0;
      for (let c = 0; c < L; c++) {
        dot += a[c]! * data[i * L + c]!;
        en += data[i * L + c]! ** 2;
      }
      cos[i] = Math.min(Math.max(dot / (an * Math.sqrt(en) + 1e-3), 0), 1);
    }
    const up = upsampleRef(cos, h, w, outH, outW);
    for (let i = 0; i < prod.length; i++) prod[i]! *= up[i]!;
  }
  return prod;
}

function argmaxRef(a: Float64Array, w: number): PointYX {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return [Math.floor(best / w), best % w];
}

function randomUnitEmbeddings(S: number, L: number, seed: number): ImageEmbeddings {
  const prng = Prng.fromSeed(seed);
  return {
    inputSize: S,
    levels: [1, 2, 3, 4, 5].map((level) => {
      const n = S >> level;
      const data = new Float32Array(n * n * L).map(() => prng.normal());
      return { level, height: n, width: n, dim: L, data };
    }),
  };
}

/** The same embeddings with content moved by (dy, dx) pixels (multiples of 32); uncovered cells from `fill`. */
function shiftEmbeddings(e: ImageEmbeddings, dy: number, dx: number, fill: ImageEmbeddings): ImageEmbeddings {
  return {
    inputSize: e.inputSize,
    levels: e.levels.map((l, i) => {
      const data = fill.levels[i]!.data.slice();
      const sy = dy >> l.level;
      const sx = dx >> l.level;
      for (let y = 0; y < l.height; y++) {
        for (let x = 0; x < l.width; x++) {
          const ty = y + sy;
          const tx = x + sx;
          if (ty < 0 || tx < 0 || ty >= l.height || tx >= l.width) continue;
          data.set(l.data.subarray((y * l.width + x) * l.dim, (y * l.width + x + 1) * l.dim), (ty * l.width + tx) * l.dim);
        }
      }
      return { ...l, data };
    }),
  };
}

function describeFrom(e: ImageEmbeddings, landmarks: PointYX[]): TemplateDescriptor {
  const L = e.levels[0]!.dim;
  return {
    numLandmarks: landmarks.length,
    dim: L,
    levels: e.levels.map((l) => {
      const out = new Float32Array(landmarks.length * L);
      landmarks.forEach(([y, x], k) => {
        const cy = Math.min(y >> l.level, l.height - 1);
        const cx = Math.min(x >> l.level, l.width - 1);
        out.set(l.data.subarray((cy * l.width + cx) * L, (cy * l.width + cx + 1) * L), k * L);
      });
      return out;
    }),
  };
}

// The reference matching (no prototype rounds; test/ml/ssl/prototypes.test.ts covers them).
const profile = resolveProfile('smoke', { ssl: { useRfb: true, prototypeRounds: 0 } });
const S = profile.inputSize;
const smokeWeights = (seed: number) => smokeSslWeights(profile, seed);


describe('cascade similarity', () => {
  it('finds a planted vector on a non-square map and clamps negative cosines to 0', async () => {
    const H = 5;
    const W = 7;
    const L = 3;
    const data = new Float32Array(H * W * L);
    for (let i = 0; i < H * W; i++) data.set([-1, -1, 0.1 * (i % 5)], i * L); // cos with [1,1,0] < 0
    data.set([1, 1, 0], (3 * W + 5) * L); // landmark 0 at (3, 5)
    data.set([0, 0, 1], (1 * W + 2) * L); // landmark 1 at (1, 2)
    const prodT = tf.tidy(() => cascadeSimilarity([tf.tensor2d([[2, 2, 0], [0, 0, 3]])], [tf.tensor4d(data, [1, H, W, L])], H, W));
    const vals = await prodT.data();
    expect(prodT.shape).toEqual([1, H, W, 2]);
    expect(await argmax2d(prodT)).toEqual([[[3, 5], [1, 2]]]);
    // Channel 0 is 0 wherever the cosine is negative (everywhere but the planted cell).
    const ch0 = Array.from({ length: H * W }, (_, i) => vals[i * 2]!);
    expect(ch0.filter((v) => v > 0)).toHaveLength(1);
    expect(Math.max(...ch0)).toBeCloseTo(4 / (4 + 1e-3), 5);
    prodT.dispose();
  });

  it('upsamples with half-pixel centres and multiplies levels (vs a JS reference, non-square)', async () => {
    const prng = Prng.fromSeed(3);
    const shapes: Array<[number, number]> = [[3, 5], [6, 10]];
    const L = 4;
    const K = 2;
    const tpl = shapes.map(() => new Float32Array(K * L).map(() => prng.normal()));
    const maps = shapes.map(([h, w]) => new Float32Array(h * w * L).map(() => prng.normal()));
    const outH = 12;
    const outW = 20;
    const prodT = tf.tidy(() => cascadeSimilarity(tpl.map((t) => tf.tensor2d(t, [K, L])), maps.map((m, i) => tf.tensor4d(m, [1, shapes[i]![0], shapes[i]![1], L])), outH, outW));
    const got = await prodT.data();
    for (let k = 0; k < K; k++) {
      const ref = new Float64Array(outH * outW).fill(1);
      shapes.forEach(([h, w], i) => {
        const a = tpl[i]!.subarray(k * L, (k + 1) * L);
        const an = Math.hypot(...a);
        const cos = new Float32Array(h * w).map((_, c) => {
          const e = maps[i]!.subarray(c * L, (c + 1) * L);
          const dot = e.reduce((s, v, j) => s + v * a[j]!, 0);
          return Math.min(Math.max(dot / (an * Math.hypot(...e) + 1e-3), 0), 1);
        });
        const up = upsampleRef(cos, h, w, outH, outW);
        up.forEach((v, j) => { ref[j]! *= v; });
      });
      for (let j = 0; j < outH * outW; j++) expect(Math.abs(got[j * K + k]! - ref[j]!)).toBeLessThan(1e-5);
    }
    prodT.dispose();
  });
});

describe('template matching', () => {
  it('is shift-equivariant on hand-made embeddings: a template shifted by whole level-5 cells is found shifted by the same offset', async () => {
    const S2 = 256;
    const L = 16;
    const tplEmb = randomUnitEmbeddings(S2, L, 1);
    const landmarks: PointYX[] = [[100, 90], [70, 150], [130, 130], [97, 161]];
    const desc = describeFrom(tplEmb, landmarks);
    const shifted = shiftEmbeddings(tplEmb, 32, -64, randomUnitEmbeddings(S2, L, 2));
    const p2 = resolveProfile('smoke', { inputSize: S2 });
    // The matcher needs a network only for embed(); matchEmbeddings works on given embeddings.
    const net = SslNetwork.create({ width: p2.ssl.width, embedDim: p2.ssl.embedDim, useRfb: p2.ssl.useRfb }, Prng.fromSeed(1));
    const matcher = SslMatcher.create(p2, await encodeSslWeights(net, S2));
    net.dispose();
    const [self, moved] = await matcher.matchEmbeddings(desc, [tplEmb, shifted]);
    matcher.dispose();
    self!.forEach(([y, x], k) => {
      expect(moved![k]).toEqual([y + 32, x - 64]);
      // The product of the cell-level peaks lands within a few pixels of the landmark itself.
      expect(Math.abs(y - landmarks[k]![0])).toBeLessThanOrEqual(4);
      expect(Math.abs(x - landmarks[k]![1])).toBeLessThanOrEqual(4);
    });
  });

  it('matchTemplate equals a JS reference cascade over the network embeddings', async () => {
    const weights = await smokeWeights(5);
    const [template, ...images] = texturedImages(4, S, 9);
    const landmarks: PointYX[] = [[10, 50], [33, 12], [63, 0], [0, 63], [40, 41.7]];
    const got = await matchTemplate({ profile, weights, template: template!, templateLandmarks: landmarks, images });
    const matcher = SslMatcher.create(profile, weights);
    const tplEmb = await matcher.embed(template!);
    const desc = describeFrom(tplEmb, landmarks.map(([y, x]) => [Math.floor(y), Math.floor(x)]));
    for (const [n, img] of images.entries()) {
      const emb = await matcher.embed(img);
      landmarks.forEach((_, k) => {
        const vecs = desc.levels.map((l) => l.subarray(k * desc.dim, (k + 1) * desc.dim));
        const ref = cascadeRef(vecs, emb, S, S);
        const [ry, rx] = argmaxRef(ref, S);
        const [gy, gx] = got[n]![k]!;
        // Same cell, or an exact tie up to float error.
        if (gy !== ry || gx !== rx) expect(Math.abs(ref[gy * S + gx]! - ref[ry * S + rx]!)).toBeLessThan(1e-5 * Math.max(ref[ry * S + rx]!, 1e-12));
      });
    }
    matcher.dispose();
  });

  it('gives identical rows for any shard of the images, and via embed + matchEmbeddings', async () => {
    const weights = await smokeWeights(6);
    const [template, ...images] = texturedImages(6, S, 21);
    const landmarks: PointYX[] = [[12, 20], [50, 44], [31, 31]];
    let progress: Array<[number, number]> = [];
    const all = await matchTemplate({ profile, weights, template: template!, templateLandmarks: landmarks, images, onProgress: (d, t) => progress.push([d, t]) });
    expect(all).toHaveLength(5);
    expect(progress).toEqual([[4, 5], [5, 5]]); // one report per forward pass of EMBED_BATCH images
    progress = [];
    const shardA = await matchTemplate({ profile, weights, template: template!, templateLandmarks: landmarks, images: [images[3]!, images[1]!] });
    const shardB = await matchTemplate({ profile, weights, template: template!, templateLandmarks: landmarks, images: [images[4]!] });
    expect(shardA).toEqual([all[3], all[1]]);
    expect(shardB).toEqual([all[4]]);
    const matcher = SslMatcher.create(profile, weights);
    const desc = await matcher.describeTemplate(template!, landmarks);
    const embs = [];
    for (const img of images) embs.push(await matcher.embed(img));
    expect(await matcher.matchEmbeddings(desc, embs.slice(2))).toEqual(all.slice(2));
    matcher.dispose();
    for (const row of all) for (const [y, x] of row) expect(Number.isInteger(y) && Number.isInteger(x) && y >= 0 && x >= 0 && y < S && x < S).toBe(true);
  });

  it('embeds an image bit for bit the same whatever its batch-mates and position in the batch', async () => {
    const weights = await smokeWeights(8);
    const images = texturedImages(7, S, 45);
    const matcher = SslMatcher.create(profile, weights);
    const alone = await Promise.all(images.map((img) => matcher.embed(img)));
    const forward = await matcher.embedMany(images); // two passes: 4 + 3 (padded)
    const backward = (await matcher.embedMany([...images].reverse())).reverse();
    const shuffled = await matcher.embedMany([images[5]!, images[0]!, images[6]!]);
    matcher.dispose();
    const bytes = (e: ImageEmbeddings) => e.levels.map((l) => Buffer.from(l.data.buffer, l.data.byteOffset, l.data.byteLength).toString('hex')).join('|');
    expect(forward).toHaveLength(7);
    for (let i = 0; i < 7; i++) {
      expect(bytes(forward[i]!)).toBe(bytes(alone[i]!));
      expect(bytes(backward[i]!)).toBe(bytes(alone[i]!));
    }
    expect([bytes(shuffled[0]!), bytes(shuffled[1]!), bytes(shuffled[2]!)]).toEqual([bytes(alone[5]!), bytes(alone[0]!), bytes(alone[6]!)]);
  });

  it('does not leak tensors across matching calls and rejects bad input', async () => {
    const weights = await smokeWeights(7);
    const [template, ...images] = texturedImages(3, S, 33);
    const landmarks: PointYX[] = [[12, 20], [50, 44]];
    const run = () => matchTemplate({ profile, weights, template: template!, templateLandmarks: landmarks, images });
    await run();
    const before = tf.memory().numTensors;
    await run();
    await run();
    expect(tf.memory().numTensors).toBe(before);
    const matcher = SslMatcher.create(profile, weights);
    await matcher.matchImages(template!, landmarks, images);
    const mid = tf.memory().numTensors;
    await matcher.matchImages(template!, landmarks, images);
    const desc = await matcher.describeTemplate(template!, landmarks);
    await matcher.matchEmbeddings(desc, [await matcher.embed(images[0]!)]);
    expect(tf.memory().numTensors).toBe(mid);
    matcher.dispose();
    expect(tf.memory().numTensors).toBe(before);

    await expect(matchTemplate({ profile: resolveProfile('smoke', { ssl: { embedDim: 16, prototypeRounds: 0 } }), weights, template: template!, templateLandmarks: landmarks, images })).rejects.toThrow(/architecture/);
    await expect(matchTemplate({ profile, weights, template: template!, templateLandmarks: [], images })).rejects.toThrow(/no template landmarks/);
    await expect(matchTemplate({ profile, weights, template: template!, templateLandmarks: landmarks, images: [{ height: 32, width: 64, data: new Float32Array(32 * 64) }] })).rejects.toThrow(/expected 64x64/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
