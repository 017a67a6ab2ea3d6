/**
 * Pure typed-array image operations on single-channel images (row-major, values in [0, 1]).
 * Coordinates are [y, x] in pixel-index units: pixel (y, x) is the sample at that point, so a
 * P×P patch has its centre at ((P − 1)/2, (P − 1)/2).
 */
import type { GrayImage } from '../types';

export function assertGrayImage(img: GrayImage, what = 'image'): void {
  if (!Number.isInteger(img.height) || !Number.isInteger(img.width) || img.height < 1 || img.width < 1) {
    throw new Error(`${what}: bad size ${img.height}x${img.width}`);
  }
  if (img.data.length !== img.height * img.width) {
    throw new Error(`${what}: data has ${img.data.length} values, expected ${img.height}x${img.width}=${img.height * img.width}`);
  }
}

/** The rows [y0, y0+h) and columns [x0, x0+w) of `img` (must lie inside it). */
export function crop(img: GrayImage, y0: number, x0: number, h: number, w: number): GrayImage {
  if (y0 < 0 || x0 < 0 || y0 + h > img.height || x0 + w > img.width) {
    throw new Error(`crop ${h}x${w} at (${y0}, ${x0}) leaves the ${img.height}x${img.width} image`);
  }
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) out.set(img.data.subarray((y0 + y) * img.width + x0, (y0 + y) * img.width + x0 + w), y * w);
  return { height: h, width: w, data: out };
}

/**
 * Bilinear sample at a real position; neighbours outside the image count as `fill` (zero fill
 * blends towards it over the last pixel, as torchvision's rotate does).
 */
export function sampleBilinear(img: GrayImage, y: number, x: number, fill = 0): number {
  const y0 = Math.floor(y);
  const x0 = Math.floor(x);
  const fy = y - y0;
  const fx = x - x0;
  const at = (yy: number, xx: number): number =>
    yy < 0 || xx < 0 || yy >= img.height || xx >= img.width ? fill : img.data[yy * img.width + xx]!;
  return (
    (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
    fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1))
  );
}

/**
 * Rotation of a point about `centre` by `angleRad`, counter-clockwise as displayed (x to the
 * right, y down), the convention of torchvision's `rotate` with a positive angle.
 */
export function rotatePoint(p: readonly [number, number], centre: readonly [number, number], angleRad: number): [number, number] {
  const c = Math.cos(angleRad);
  const s = Math.sin(angleRad);
  const dy = p[0] - centre[0];
  const dx = p[1] - centre[1];
  return [centre[0] - s * dx + c * dy, centre[1] + c * dx + s * dy];
}

/**
 * Rotates an image about its centre ((H−1)/2, (W−1)/2) by `angleRad` (see `rotatePoint`) with
 * bilinear interpolation, zero fill outside, output clipped to [0, 1]. A source point p lands at
 * rotatePoint(p, centre, angleRad).
 */
export function rotateBilinear(img: GrayImage, angleRad: number): GrayImage {
  const { height: h, width: w, data } = img;
  const cy = (h - 1) / 2;
  const cx = (w - 1) / 2;
  const c = Math.cos(angleRad);
  const s = Math.sin(angleRad);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    const dy = y - cy;
    for (let x = 0; x < w; x++) {
      const dx = x - cx;
      // Inverse map (rotation by −angle) from the output pixel to the source; same arithmetic
      // as sampleBilinear with zero fill, inlined.
      const sy = cy + s * dx + c * dy;
      const sx = cx + c * dx - s * dy;
      const y0 = Math.floor(sy);
      const x0 = Math.floor(sx);
      if (y0 < -1 || x0 < -1 || y0 >= h || x0 >= w) continue;
      const fy = sy - y0;
      const fx = sx - x0;
      const inY0 = y0 >= 0;
      const inY1 = y0 + 1 < h;
      const inX0 = x0 >= 0;
      const inX1 = x0 + 1 < w;
      const r0 = y0 * w;
      const r1 = r0 + w;
      const v00 = inY0 && inX0 ? data[r0 + x0]! : 0;
      const v01 = inY0 && inX1 ? data[r0 + x0 + 1]! : 0;
      const v10 = inY1 && inX0 ? data[r1 + x0]! : 0;
      const v11 = inY1 && inX1 ? data[r1 + x0 + 1]! : 0;
      const v = (1 - fy) * ((1 - fx) * v00 + fx * v01) + fy * ((1 - fx) * v10 + fx * v11);
      out[y * w + x] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { height: h, width: w, data: out };
}

/** 8-bit quantisation as torchvision's tensor → PIL conversion does it: trunc(255·v), in 0..255. */
export function quantise8(img: GrayImage): Uint8Array {
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Math.floor(img.data[i]! * 255);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/**
 * PIL's `Image.blend(degenerate, img, factor)` on 8-bit data: trunc(d + factor·(v − d)) clipped
 * to 0..255, with a constant degenerate image `d`.
 */
function blend8(px: Uint8Array, degenerate: number, factor: number): void {
  for (let i = 0; i < px.length; i++) {
    const t = degenerate + factor * (px[i]! - degenerate);
    px[i] = t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
  }
}

/** torchvision/PIL brightness: blend with black. In place on 8-bit data. */
export function adjustBrightness8(px: Uint8Array, factor: number): void {
  blend8(px, 0, factor);
}

/** torchvision/PIL contrast: blend with the rounded mean grey of the image. In place. */
export function adjustContrast8(px: Uint8Array, factor: number): void {
  let sum = 0;
  for (let i = 0; i < px.length; i++) sum += px[i]!;
  const mean = Math.trunc(sum / Math.max(px.length, 1) + 0.5);
  blend8(px, mean, factor);
}

/**
 * PIL-style bilinear resize (what `Image.resize(..., BILINEAR)` does): a separable triangle
 * filter whose support widens with the scale factor when shrinking, so it anti-aliases. Float
 * in, float out (PIL's 8-bit rounding between the two passes is not reproduced;
 * infra/dataset/resample does that, from the same coefficients).
 */
export function resizeAntialiased(img: GrayImage, outHeight: number, outWidth: number): GrayImage {
  assertGrayImage(img);
  if (!Number.isInteger(outHeight) || !Number.isInteger(outWidth) || outHeight < 1 || outWidth < 1) {
    throw new Error(`resizeAntialiased: bad output size ${outHeight}x${outWidth}`);
  }
  const cols = bilinearTaps(img.width, outWidth);
  const rows = bilinearTaps(img.height, outHeight);
  // Horizontal pass: height × outWidth.
  const tmp = new Float32Array(img.height * outWidth);
  for (let y = 0; y < img.height; y++) {
    const rowOff = y * img.width;
    for (let x = 0; x < outWidth; x++) {
      const s = rowOff + cols.start[x]!;
      const k0 = x * cols.ksize;
      let acc = 0;
      for (let k = 0; k < cols.count[x]!; k++) acc += cols.weights[k0 + k]! * img.data[s + k]!;
      tmp[y * outWidth + x] = acc;
    }
  }
  const out = new Float32Array(outHeight * outWidth);
  for (let y = 0; y < outHeight; y++) {
    const start = rows.start[y]!;
    const k0 = y * rows.ksize;
    for (let x = 0; x < outWidth; x++) {
      let acc = 0;
      for (let k = 0; k < rows.count[y]!; k++) acc += rows.weights[k0 + k]! * tmp[(start + k) * outWidth + x]!;
      out[y * outWidth + x] = acc;
    }
  }
  return { height: outHeight, width: outWidth, data: out };
}

/** The taps of a 1-D resampling filter, per output index. */
export interface FilterTaps {
  /** First input index per output index. */
  start: Int32Array;
  /** Number of taps per output index. */
  count: Int32Array;
  /** Normalised weights, `ksize` slots per output index (the first `count` used). */
  weights: Float64Array;
  ksize: number;
}

/**
 * Pillow's `precompute_coeffs` for the bilinear filter (triangle, support 1, widened by the
 * scale factor when shrinking; taps centred at (i + 0.5)·scale), with Pillow's arithmetic step
 * for step, so that fixed-point weights derived from these match Pillow's bit for bit.
 */
export function bilinearTaps(inSize: number, outSize: number): FilterTaps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 1 * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  const ss = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C `(int)` truncates toward zero.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = xx * ksize;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      weights[k + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) weights[k + x]! /= ww;
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, ksize };
}
