/**
 * Anti-aliased resize of an 8-bit grey image to an arbitrary size (aspect not kept), reproducing
 * Pillow's `Image.resize(..., BILINEAR)` — what torchvision's Resize does on the PIL images CC2D
 * loads (docs/method.md#preprocessing, #trap-resize).
 *
 * Why not `tf.image.resizeBilinear`: it samples 2×2 neighbours only and aliases badly when
 * shrinking 1935×2400 → 384² (6.25×). Why not sharp's `kernel: 'linear'`: libvips also widens
 * the triangle kernel by the shrink factor, but by default it first box-shrinks by an integer
 * factor (its "gap" optimisation, not exposed by sharp) and its output may change with libvips
 * releases. This resampler is Pillow's algorithm in plain TypeScript, so the published
 * working-resolution bytes are deterministic and match the reference implementation:
 * - separable (see resizeBilinearAntialias for the pass order), each pass rounded back to 8 bits;
 * - triangle filter of support 1, widened by the scale factor when shrinking
 *   (support = max(1, in/out)), taps centred at (i + 0.5)·scale, weights normalised per output;
 * - fixed-point weights with 22 fractional bits and round-half-up, as Pillow's 8-bit path.
 */
import { bilinearTaps } from '../../ml/data/image-ops';
import type { GreyImage8 } from './types';

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

interface Coefficients {
  /** First input index per output index. */
  start: Int32Array;
  /** Number of taps per output index. */
  count: Int32Array;
  /** Fixed-point weights, `ksize` slots per output index. */
  weights: Int32Array;
  ksize: number;
}

/** Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for the bilinear filter (support 1). */
export function bilinearCoefficients(inSize: number, outSize: number): Coefficients {
  const taps = bilinearTaps(inSize, outSize);
  const weights = new Int32Array(taps.weights.length);
  taps.weights.forEach((w, i) => {
    weights[i] = Math.trunc(w * ONE + (w < 0 ? -0.5 : 0.5));
  });
  return { start: taps.start, count: taps.count, weights, ksize: taps.ksize };
}

// Accumulators are int32, as in Pillow: 255 · 2^22 · Σw stays below 2^31 for normalised weights.
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

function horizontalPass(image: GreyImage8, width: number): GreyImage8 {
  const { width: inW, height, data } = image;
  const { start, count, weights, ksize } = bilinearCoefficients(inW, width);
  const out = new Uint8Array(width * height);
  const half = ONE >> 1;
  for (let y = 0; y < height; y++) {
    const row = y * inW;
    const outRow = y * width;
    for (let xx = 0; xx < width; xx++) {
      const s = row + (start[xx] as number);
      const n = count[xx] as number;
      const k = xx * ksize;
      let acc = half;
      for (let t = 0; t < n; t++) acc = (acc + Math.imul(data[s + t] as number, weights[k + t] as number)) | 0;
      out[outRow + xx] = clip8(acc);
    }
  }
  return { width, height, data: out };
}

function verticalPass(image: GreyImage8, height: number): GreyImage8 {
  const { width, height: inH, data } = image;
  const { start, count, weights, ksize } = bilinearCoefficients(inH, height);
  const out = new Uint8Array(width * height);
  const acc = new Int32Array(width);
  for (let yy = 0; yy < height; yy++) {
    const s = start[yy] as number;
    const n = count[yy] as number;
    const k = yy * ksize;
    acc.fill(ONE >> 1);
    for (let t = 0; t < n; t++) {
      const w = weights[k + t] as number;
      const row = (s + t) * width;
      for (let x = 0; x < width; x++) acc[x] = ((acc[x] as number) + Math.imul(data[row + x] as number, w)) | 0;
    }
    const outRow = yy * width;
    for (let x = 0; x < width; x++) out[outRow + x] = clip8(acc[x] as number);
  }
  return { width, height, data: out };
}

/**
 * Resizes `image` to width×height with Pillow-compatible anti-aliased bilinear filtering.
 * Pass order: horizontal first, except when widening while shrinking vertically, where current
 * Pillow (checked against 13.0) runs the vertical pass first. Shrinking both axes — the only case
 * for ISBI working sizes up to 1935 — is horizontal first in every Pillow version.
 */
export function resizeBilinearAntialias(image: GreyImage8, width: number, height: number): GreyImage8 {
  if (image.data.length !== image.width * image.height) {
    throw new Error(`image data has ${image.data.length} bytes, expected ${image.width * image.height}`);
  }
  const needH = width !== image.width;
  const needV = height !== image.height;
  if (!needH && !needV) return { width, height, data: image.data.slice() };
  if (needH && needV && width > image.width && height < image.height) return horizontalPass(verticalPass(image, height), width);
  const afterH = needH ? horizontalPass(image, width) : image;
  return needV ? verticalPass(afterH, height) : afterH;
}
