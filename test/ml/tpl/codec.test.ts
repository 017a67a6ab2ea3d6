import { describe, expect, it } from 'vitest';
import { Prng } from '../../../ml/core/prng';
import {
  decodeVoting, decodeVotingDetailed, diskRadius, encodeHeatmapOffset, topKIndices, voteCandidates, voteConfidence, voteOne,
} from '../../../ml/tpl/codec';
import type { PointYX } from '../../../ml/types';

describe('TPL codec: sizes', () => {
  it('radius and candidate count follow the reference (R = int(0.05·384) = 19, C = int(3.14·R²) = 1133)', () => {
    expect(diskRadius(384, 0.05)).toBe(19);
    expect(diskRadius(192, 0.05)).toBe(9);
    expect(diskRadius(64, 0.1)).toBe(6);
    expect(voteCandidates(19)).toBe(1133);
    expect(voteCandidates(9)).toBe(254);
    expect(() => diskRadius(32, 0.01)).toThrow(/radius below 1/);
  });
});

describe('TPL codec: encodeHeatmapOffset', () => {
  it('draws a disk of radius R centred on the landmark with offsets pointing at it (non-square)', () => {
    const H = 12;
    const W = 20;
    const R = 3;
    const t = encodeHeatmapOffset([[5, 13]], H, W, R);
    expect(t.heatmap.length).toBe(H * W);
    let count = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = y * W + x;
        const inside = (y - 5) ** 2 + (x - 13) ** 2 < R * R;
        expect(t.heatmap[i]).toBe(inside ? 1 : 0);
        if (inside) {
          count++;
          expect(t.offsetX[i]).toBeCloseTo((13 - x) / R, 6);
          expect(t.offsetY[i]).toBeCloseTo((5 - y) / R, 6);
        } else {
          expect(t.offsetX[i]).toBe(0);
          expect(t.offsetY[i]).toBe(0);
        }
      }
    }
    // Pixels strictly inside a radius-3 circle: rows dy = 0, ±1, ±2 each hold dx = −2…2 → 25.
    expect(count).toBe(25);
    expect(t.heatmap[4 * W + 13]).toBe(1);
    expect(t.heatmap[6 * W + 13]).toBe(1);
    expect(t.heatmap[5 * W + 11]).toBe(1);
    expect(t.heatmap[5 * W + 15]).toBe(1);
    expect(t.heatmap[2 * W + 13]).toBe(0); // distance exactly R is outside
  });

  it('clips disks at the border pixel by pixel (no shifted stamp, docs/method.md#trap-disk)', () => {
    const t = encodeHeatmapOffset([[0, 19]], 6, 20, 3);
    // Top-right corner landmark: the disk's lower-left quarter remains, offsets unchanged.
    expect(t.heatmap[0 * 20 + 19]).toBe(1);
    expect(t.offsetX[0 * 20 + 19]).toBe(0);
    expect(t.heatmap[2 * 20 + 18]).toBe(1);
    expect(t.offsetY[2 * 20 + 18]).toBeCloseTo(-2 / 3, 6);
    expect(t.offsetX[2 * 20 + 18]).toBeCloseTo(1 / 3, 6);
    expect(t.heatmap[3 * 20 + 19]).toBe(0);
  });

  it('lays out landmarks as K planes', () => {
    const t = encodeHeatmapOffset([[1, 1], [4, 6]], 6, 8, 1);
    expect(t.landmarkCount).toBe(2);
    expect(t.heatmap.length).toBe(2 * 48);
    expect(t.heatmap[1 * 8 + 1]).toBe(1);
    expect(t.heatmap[48 + 4 * 8 + 6]).toBe(1);
    expect(t.heatmap.reduce((a, b) => a + b, 0)).toBe(2); // R = 1: only the landmark pixel
  });
});

describe('TPL codec: decodeVoting', () => {
  it('recovers landmarks exactly from encoded targets on non-square maps, including borders', () => {
    const H = 48;
    const W = 80;
    const prng = Prng.fromSeed(11);
    for (const R of [3, 4, 6, 9, 19, 22]) {
      const pts: PointYX[] = [
        [0, 0], [0, W - 1], [H - 1, 0], [H - 1, W - 1], // corners
        [0, 40], [H - 1, 41], [23, 0], [24, W - 1], // edges
        [1, 2], [H - 2, W - 3], // one pixel in
      ];
      for (let i = 0; i < 10; i++) pts.push([prng.int(H), prng.int(W)]);
      const t = encodeHeatmapOffset(pts, H, W, R);
      const got = decodeVoting(t.heatmap, t.offsetX, t.offsetY, H, W, R, pts.length);
      expect(got, `R = ${R}`).toEqual(pts);
    }
  });

  it('counts one vote per candidate, drops votes outside the map, breaks ties row-major', () => {
    // H = 2, W = 3, R = 1 → C = int(3.14) = 3 candidates.
    const H = 2;
    const W = 3;
    const heat = new Float32Array([0.9, 0.1, 0.8, 0.7, 0.2, 0.05]); // top 3: (0,0), (0,2), (1,0)
    const ox = new Float32Array(6);
    const oy = new Float32Array(6);
    // (0,0) votes for (1,1); (0,2) votes outside (x = 3); (1,0) votes for (1,1).
    ox[0] = 1; oy[0] = 1;
    ox[2] = 1;
    ox[3] = 1;
    const r = decodeVotingDetailed(heat, ox, oy, H, W, 1, 1);
    expect(r.landmarks).toEqual([[1, 1]]);
    expect(r.votes).toEqual([2]);
    // Offsets truncate toward zero: 0.99·R = 0.99 → no move; −0.99 → no move.
    ox[0] = 0.99; oy[0] = -0.99;
    ox[3] = 0; // (1,0) votes for itself
    const tie = decodeVotingDetailed(heat, ox, oy, H, W, 1, 1);
    // Votes: (0,0) ← (0,0); (1,0) ← (1,0); tie between (0,0) and (1,0): first in row-major wins.
    expect(tie.landmarks).toEqual([[0, 0]]);
    expect(tie.votes).toEqual([1]);
  });

  it('returns (0, 0) with 0 votes when every vote leaves the map, like the reference arg-max', () => {
    const heat = new Float32Array(6).fill(1);
    const ox = new Float32Array(6).fill(5);
    const r = decodeVotingDetailed(heat, ox, new Float32Array(6), 2, 3, 1, 1);
    expect(r).toEqual({ landmarks: [[0, 0]], votes: [0] });
  });

  it('rejects arrays of the wrong size with a message naming them', () => {
    expect(() => decodeVoting(new Float32Array(5), new Float32Array(6), new Float32Array(6), 2, 3, 1, 1)).toThrow(/heatmap has 5 values/);
  });
});

describe('TPL codec: voteConfidence', () => {
  // W = 10, R = 2: candidates at row-major indices; offsets in units of R.
  const W = 10;
  const R = 2;
  it('is 1 when a full-probability peak sits at the winner and every candidate votes for it', () => {
    const idx = [22, 23, 32]; // (2,2), (2,3), (3,2)
    const ox = [0.5, 0, 0.5]; // → x 3, 3, 3
    const oy = [0.5, 0.5, 0]; // → y 3, 3, 3
    const heat = [1, 0.5, 0.25];
    const v = voteOne(idx, ox, oy, 10, W, R, new Int32Array(100));
    expect(v.landmark).toEqual([3, 3]);
    expect(voteConfidence(idx, ox, oy, heat, W, R, v.landmark)).toEqual({ peak: 1, agreement: 1, confidence: 1 });
  });

  it('drops with scattered votes and with a low peak; peaks far from the winner do not count', () => {
    const idx = [22, 23, 88]; // (2,2), (2,3), (8,8)
    const ox = [0.5, 0, 0];
    const oy = [0.5, 0.5, 0]; // (8,8) votes for itself, 5+ px from (3,3)
    const heat = [0.36, 0.2, 0.9];
    const c = voteConfidence(idx, ox, oy, heat, W, R, [3, 3]);
    expect(c.peak).toBeCloseTo(0.36, 6); // 0.9 is at (8,8), outside R of the winner
    expect(c.agreement).toBeCloseTo(2 / 3, 12);
    expect(c.confidence).toBeCloseTo(Math.sqrt(0.36 * (2 / 3)), 6);
    expect(voteConfidence([], [], [], [], W, R, [0, 0])).toEqual({ peak: 0, agreement: 0, confidence: 0 });
  });
});

describe('topKIndices', () => {
  it('selects the largest values, lower index first among equals, and matches a full sort', () => {
    const prng = Prng.fromSeed(3);
    for (let trial = 0; trial < 20; trial++) {
      const n = 1 + prng.int(300);
      // Few distinct values → many ties.
      const v = Float32Array.from({ length: n }, () => prng.int(7) / 7);
      const c = 1 + prng.int(n);
      const got = Array.from(topKIndices(v, 0, n, c)).sort((a, b) => a - b);
      const want = Array.from({ length: n }, (_x, i) => i)
        .sort((a, b) => v[b]! - v[a]! || a - b)
        .slice(0, c)
        .sort((a, b) => a - b);
      expect(got).toEqual(want);
    }
  });
});
