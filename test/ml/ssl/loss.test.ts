import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { levelTargets, sslLoss } from '../../../ml/ssl/loss';
import type { SslLossConfig } from '../../../ml/ssl/loss';
import type { SslEmbeddingMaps } from '../../../ml/ssl/network';

const S = 64;
const P = 32;
const L = 4;

function maps(batch: number, side: number, fill?: number, seed = 0): SslEmbeddingMaps {
  return [1, 2, 3, 4, 5].map((k) => {
    const n = side >> k;
    return (fill === undefined ? tf.randomNormal([batch, n, n, L], 0, 1, 'float32', seed + k) : tf.fill([batch, n, n, L], fill)) as tf.Tensor4D;
  }) as SslEmbeddingMaps;
}

const cfg: SslLossConfig = { temperature: 0.1, window: 7, distanceBias: false };

describe('ssl loss', () => {
  it('equals log(region size) per level when all embeddings are equal (window clipping, whole map at level 5)', () => {
    tf.tidy(() => {
      // Sample 0: g at the corner (windows clipped to 4x4); sample 1: g in the middle of level 1.
      const targets = { patchYX: new Int32Array([5, 9, 16, 16]), imageYX: new Int32Array([0, 0, 33, 31]) };
      const { perLevel, total } = sslLoss(maps(2, S, 0.5), maps(2, P, 0.5), targets, cfg);
      const got = perLevel.map((t) => t.dataSync()[0]!);
      // Level k map side: 32, 16, 8, 4, 2. Sample 1 cells g = (33>>k, 31>>k).
      const region = (side: number, g: number) => Math.min(side, g + 4) - Math.max(0, g - 3);
      const expected = [1, 2, 3, 4].map((k) => {
        const side = S >> k;
        const r0 = Math.log(region(side, 0) ** 2);
        const r1 = Math.log(region(side, 33 >> k) * region(side, 31 >> k));
        return (r0 + r1) / 2;
      });
      expected.push(Math.log(4));
      got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
      expect(total.dataSync()[0]).toBeCloseTo(expected.reduce((a, b) => a + b, 0), 4);
    });
  });

  it('adds the CC2Dv2 distance bias when enabled', () => {
    tf.tidy(() => {
      const targets = { patchYX: new Int32Array([16, 16]), imageYX: new Int32Array([40, 20]) };
      const withBias = { ...cfg, distanceBias: true };
      const { perLevel } = sslLoss(maps(1, S, 1), maps(1, P, 1), targets, withBias);
      // Level 1: map 32x32, g = (20, 10), window 7 → cells g ± 3; logits differ only by the bias.
      let sum = 0;
      for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) sum += Math.exp(Math.min(0.07 * Math.hypot(dy, dx), 0.8) / 0.1);
      expect(perLevel[0]!.dataSync()[0]).toBeCloseTo(Math.log(sum), 3);
    });
  });

  it('builds targets with the anchor cell of the patch map and the positive cell of the image map', () => {
    const t = levelTargets(2, 2, [16, 16], [8, 8], { patchYX: new Int32Array([5, 9, 31, 0]), imageYX: new Int32Array([63, 63, 4, 8]) }, cfg);
    expect(Array.from(t.anchorIndex)).toEqual([1 * 8 + 2, 64 + 7 * 8 + 0]);
    expect(t.positive[15 * 16 + 15]).toBe(1);
    expect(t.positive[256 + 1 * 16 + 2]).toBe(1);
    // Window cells are 0, outside −1e4.
    expect(t.offsets[256 + 0]).toBe(0);
    expect(t.offsets[256 + 5 * 16 + 2]).toBe(-1e4); // row 5 > 1 + 3
  });

  it('passes a numeric gradient check (central differences vs tf.grads)', () => {
    const targets = { patchYX: new Int32Array([7, 20, 25, 12]), imageYX: new Int32Array([30, 41, 12, 50]) };
    const img = maps(2, S, undefined, 10);
    const pat = maps(2, P, undefined, 20);
    const inputs = [...img, ...pat];
    const lossOf = (ts: tf.Tensor[]) => sslLoss(ts.slice(0, 5) as SslEmbeddingMaps, ts.slice(5) as SslEmbeddingMaps, targets, cfg).total;
    const analytic = tf.grads((...ts: tf.Tensor[]) => lossOf(ts))(inputs);
    const values = inputs.map((t) => t.dataSync().slice());
    const grads = analytic.map((g) => g.dataSync());
    const evalLoss = (which: number, idx: number, delta: number): number => tf.tidy(() => {
      const changed = values[which]!.slice();
      changed[idx]! += delta;
      const ts = inputs.map((t, i) => (i === which ? tf.tensor(changed, t.shape) : t));
      return lossOf(ts).dataSync()[0]!;
    });
    const h = 1e-2;
    let checked = 0;
    let nonzero = 0;
    inputs.forEach((_, which) => {
      const g = grads[which]!;
      // The 4 largest-gradient entries plus 4 spread-out ones per input.
      const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!));
      const picks = new Set([...order.slice(0, 4), ...[0.1, 0.35, 0.6, 0.85].map((f) => Math.floor(f * g.length))]);
      for (const idx of picks) {
        const fd = (evalLoss(which, idx, h) - evalLoss(which, idx, -h)) / (2 * h);
        expect(Math.abs(fd - g[idx]!)).toBeLessThan(3e-3 + 3e-2 * Math.abs(g[idx]!));
        checked += 1;
        if (Math.abs(g[idx]!) > 1e-2) nonzero += 1;
      }
    });
    expect(checked).toBeGreaterThan(60);
    expect(nonzero).toBeGreaterThan(30);
    tf.dispose([...inputs, ...analytic]);
  });
});
