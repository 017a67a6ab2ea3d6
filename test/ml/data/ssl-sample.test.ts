import { describe, expect, it } from 'vitest';
import { Prng } from '../../../ml/core/prng';
import {
  adjustBrightness8, adjustContrast8, quantise8, resizeAntialiased, rotateBilinear, rotatePoint, sampleBilinear,
} from '../../../ml/data/image-ops';
import { anchorRegion, drawSslSample, makeSslBatch, sslSampleConfig } from '../../../ml/data/ssl-sample';
import type { GrayImage } from '../../../ml/types';

/**
 * Smooth content that differs along y and x (a y-ramp plus an x-sinusoid), so a swapped axis
 * or a wrong rotation sense gives errors of ~0.3, far above the interpolation tolerance.
 */
function anisotropicImage(S: number): GrayImage {
  const data = new Float32Array(S * S);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) data[y * S + x] = 0.1 + 0.55 * (y / S) + 0.3 * (0.5 + 0.5 * Math.sin((2 * Math.PI * x) / 29));
  }
  return { height: S, width: S, data };
}

describe('ssl sample generation', () => {
  const S = 64;
  const image = anisotropicImage(S);

  it('keeps the anchor inside the rotation-safe disk and the patch, and the patch pixel matches the image pixel', () => {
    const cfg = { ...sslSampleConfig(S, { rotationDeg: 20, brightness: 0, contrast: 0 }) };
    const P = cfg.patchSize;
    const region = anchorRegion(P);
    let worst = 0;
    for (let seed = 0; seed < 300; seed++) {
      const s = drawSslSample(image, Prng.fromSeed(seed), cfg);
      const [py, px] = s.patchYX;
      expect(py).toBeGreaterThanOrEqual(region.lo);
      expect(px).toBeGreaterThanOrEqual(region.lo);
      expect(py).toBeLessThan(region.hi);
      expect(px).toBeLessThan(region.hi);
      const [iy, ix] = s.imageYX;
      const ay = iy - s.cropYX[0];
      const ax = ix - s.cropYX[1];
      expect((ay - region.centre) ** 2 + (ax - region.centre) ** 2).toBeLessThanOrEqual(region.radius ** 2);
      expect(Math.abs(s.angleRad)).toBeLessThanOrEqual((20 * Math.PI) / 180);
      const patchValue = s.patch.data[py * P + px]!;
      const imageValue = image.data[iy * S + ix]!;
      // Rounding the rotated anchor to a cell moves it ≤ 0.71 px; max slope here ≈ 0.033/px; plus 8-bit truncation.
      worst = Math.max(worst, Math.abs(patchValue - imageValue));
      expect(Math.abs(patchValue - imageValue)).toBeLessThan(0.035);
      // Exact check: the patch pixel is the (truncated) image sampled at the inverse-rotated cell.
      const [sy, sx] = rotatePoint([py, px], [region.centre, region.centre], -s.angleRad);
      const exact = sampleBilinear(image, s.cropYX[0] + sy, s.cropYX[1] + sx);
      expect(Math.abs(patchValue - exact)).toBeLessThan(1 / 255 + 1e-5);
    }
    expect(worst).toBeGreaterThan(0); // the test is not vacuous
  });

  it('is deterministic per PRNG state and covers the crop range', () => {
    const cfg = sslSampleConfig(S, { rotationDeg: 20, brightness: 0.15, contrast: 0.25 });
    const a = drawSslSample(image, Prng.fromSeed(7), cfg);
    const b = drawSslSample(image, Prng.fromSeed(7), cfg);
    expect(Array.from(a.patch.data)).toEqual(Array.from(b.patch.data));
    expect(a.patchYX).toEqual(b.patchYX);
    const prng = Prng.fromSeed(1);
    const ys = new Set<number>();
    for (let i = 0; i < 400; i++) ys.add(drawSslSample(image, prng, cfg).cropYX[0]);
    expect(Math.min(...ys)).toBe(0);
    expect(Math.max(...ys)).toBe(S - S / 2 - 1);
  });

  it('applies jitter factors within range and keeps values in [0, 1]', () => {
    const cfg = sslSampleConfig(S, { rotationDeg: 20, brightness: 0.15, contrast: 0.25 });
    const prng = Prng.fromSeed(3);
    for (let i = 0; i < 50; i++) {
      const s = drawSslSample(image, prng, cfg);
      expect(s.brightnessFactor).toBeGreaterThanOrEqual(0.85);
      expect(s.brightnessFactor).toBeLessThan(1.15);
      expect(s.contrastFactor).toBeGreaterThanOrEqual(0.75);
      expect(s.contrastFactor).toBeLessThan(1.25);
      expect(Math.min(...s.patch.data)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...s.patch.data)).toBeLessThanOrEqual(1);
    }
  });

  it('builds batches as typed arrays', () => {
    const cfg = sslSampleConfig(S, { rotationDeg: 20, brightness: 0.15, contrast: 0.25 });
    const other = anisotropicImage(S).data.map((v) => 1 - v);
    const batch = makeSslBatch([image, { height: S, width: S, data: other }], [1, 0, 1], Prng.fromSeed(5), cfg);
    expect(batch.size).toBe(3);
    expect(batch.images.length).toBe(3 * S * S);
    expect(batch.patches.length).toBe(3 * (S / 2) ** 2);
    expect(Array.from(batch.images.subarray(S * S, 2 * S * S))).toEqual(Array.from(image.data));
    expect(() => makeSslBatch([image], [1], Prng.fromSeed(5), cfg)).toThrow(/no image at index 1/);
    expect(() => drawSslSample({ height: 32, width: 64, data: new Float32Array(32 * 64) }, Prng.fromSeed(1), cfg)).toThrow(/expected 64x64/);
  });
});

describe('image ops', () => {
  it('quantises like tensor → PIL (truncation) and applies PIL brightness/contrast', () => {
    const q = quantise8({ height: 1, width: 4, data: new Float32Array([0, 0.5, 0.999, 1]) });
    expect(Array.from(q)).toEqual([0, 127, 254, 255]);
    const px = new Uint8Array([10, 100, 200, 250]);
    adjustBrightness8(px, 1.1);
    expect(Array.from(px)).toEqual([11, 110, 220, 255]);
    const c = new Uint8Array([10, 20, 30, 40]); // mean 25
    adjustContrast8(c, 0.5);
    expect(Array.from(c)).toEqual([17, 22, 27, 32]);
    const id = new Uint8Array([3, 77, 200]);
    adjustContrast8(id, 1);
    expect(Array.from(id)).toEqual([3, 77, 200]);
  });

  it('rotates about the centre in the rotatePoint sense (non-square image)', () => {
    const h = 21;
    const w = 31;
    const data = new Float32Array(h * w);
    data[5 * w + 20] = 1; // a single bright pixel
    const angle = 0.3;
    const rot = rotateBilinear({ height: h, width: w, data }, angle);
    let best = 0;
    let at: [number, number] = [0, 0];
    rot.data.forEach((v, i) => {
      if (v > best) {
        best = v;
        at = [Math.floor(i / w), i % w];
      }
    });
    const [ey, ex] = rotatePoint([5, 20], [(h - 1) / 2, (w - 1) / 2], angle);
    expect(Math.abs(at[0] - ey)).toBeLessThanOrEqual(0.5 + 1e-9);
    expect(Math.abs(at[1] - ex)).toBeLessThanOrEqual(0.5 + 1e-9);
    // Positive angle is counter-clockwise on screen: a point right of centre moves up.
    const [uy] = rotatePoint([10, 25], [10, 15], 0.5);
    expect(uy).toBeLessThan(10);
  });

  it('resizes with PIL-style anti-aliasing: constants stay constant, ramps stay ramps', () => {
    const H = 50;
    const W = 40;
    const ramp = new Float32Array(H * W);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) ramp[y * W + x] = x;
    const out = resizeAntialiased({ height: H, width: W, data: ramp }, 20, 10);
    expect(out.height).toBe(20);
    expect(out.width).toBe(10);
    const scale = W / 10;
    for (let x = 2; x < 8; x++) expect(out.data[5 * 10 + x]!).toBeCloseTo((x + 0.5) * scale - 0.5, 4);
    const flat = resizeAntialiased({ height: H, width: W, data: new Float32Array(H * W).fill(0.3) }, 7, 9);
    for (const v of flat.data) expect(v).toBeCloseTo(0.3, 6);
    // Upscaling keeps a ramp linear too (support 1).
    const up = resizeAntialiased({ height: 4, width: 4, data: new Float32Array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]) }, 4, 8);
    expect(up.data[2]).toBeCloseTo(0.75, 6);
  });
});
