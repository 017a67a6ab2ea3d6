/**
 * Patch geometry of the refinement stage (pure arrays): cutting P×P patches out of a fine
 * working image, the Gaussian target of a landmark inside its patch, and reading the landmark
 * back from the patch's softmax. Points are [y, x] in cell-index convention on the fine grid;
 * a patch centred on c has its top-left pixel at round(c) − P/2.
 */
import type { GrayImage, PointYX } from '../types';

/** Top-left pixel [y0, x0] of the patch centred on `p`. */
export function patchOrigin(p: readonly [number, number], patch: number): [number, number] {
  return [Math.round(p[0]) - patch / 2, Math.round(p[1]) - patch / 2];
}

/** Copies the patch with top-left `origin` into `out` at `offset` (zeros outside the image). */
export function cutPatch(img: GrayImage, origin: readonly [number, number], patch: number, out: Float32Array, offset: number): void {
  const [y0, x0] = origin;
  for (let y = 0; y < patch; y++) {
    const sy = y0 + y;
    const row = offset + y * patch;
    if (sy < 0 || sy >= img.height) {
      out.fill(0, row, row + patch);
      continue;
    }
    for (let x = 0; x < patch; x++) {
      const sx = x0 + x;
      out[row + x] = sx >= 0 && sx < img.width ? img.data[sy * img.width + sx]! : 0;
    }
  }
}

/** A Gaussian of σ `sigma` at `at` (patch coordinates) normalised to sum 1, written at `offset`. */
export function writeTarget(at: readonly [number, number], patch: number, sigma: number, out: Float32Array, offset: number): void {
  const inv = 1 / (2 * sigma * sigma);
  let sum = 0;
  for (let y = 0; y < patch; y++) {
    for (let x = 0; x < patch; x++) {
      const v = Math.exp(-((y - at[0]) ** 2 + (x - at[1]) ** 2) * inv);
      out[offset + y * patch + x] = v;
      sum += v;
    }
  }
  for (let i = 0; i < patch * patch; i++) out[offset + i]! /= sum;
}

/**
 * The landmark in patch coordinates from its softmax probabilities (P·P values at `offset`):
 * the arg-max, then the probability-weighted mean of its (2r+1)² neighbourhood for sub-pixel
 * precision.
 */
export function decodePatch(probs: Float32Array, offset: number, patch: number, r = 2): PointYX {
  let best = 0;
  for (let i = 1; i < patch * patch; i++) if (probs[offset + i]! > probs[offset + best]!) best = i;
  const by = Math.floor(best / patch);
  const bx = best % patch;
  let sy = 0;
  let sx = 0;
  let sw = 0;
  for (let y = Math.max(0, by - r); y <= Math.min(patch - 1, by + r); y++) {
    for (let x = Math.max(0, bx - r); x <= Math.min(patch - 1, bx + r); x++) {
      const w = probs[offset + y * patch + x]!;
      sy += w * y;
      sx += w * x;
      sw += w;
    }
  }
  return sw > 0 ? [sy / sw, sx / sw] : [by, bx];
}
