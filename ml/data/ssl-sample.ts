/**
 * Stage-I (self-supervised) training samples (docs/method.md#ssl-sample), drawn deterministically from a Prng.
 *
 * From a working-size image I (S×S):
 *  1. crop P = S/2: top-left (y0, x0) integer-uniform in [0, S − P);
 *  2. anchor (ay, ax) in the crop: integer-uniform over the cells of the disk inscribed in the
 *     reference's anchor square [⌊0.1P⌋, ⌊0.9P⌋)² (rejection sampling). The disk is the
 *     rotation-safe region of docs/method.md#trap-rotation-anchor: any rotation about the patch centre keeps the anchor
 *     inside that square, hence inside the patch (the reference's corner anchors can leave it);
 *  3. photometric jitter on the crop only: trunc(255·v) 8-bit quantisation, then brightness
 *     U[1−b, 1+b] and contrast U[1−c, 1+c] with PIL/ColorJitter semantics, in random order;
 *  4. rotation about the crop centre by U[−r°, +r°] (bilinear — the reference uses bicubic —,
 *     zero fill, clip to [0, 1]); the anchor is rotated analytically and rounded to a cell.
 * Outputs the patch, the anchor cell in the patch and the anchor cell in the image.
 */
import type { Prng } from '../core/prng';
import type { SslProfile } from '../profiles';
import type { GrayImage } from '../types';
import { adjustBrightness8, adjustContrast8, assertGrayImage, crop, quantise8, rotateBilinear, rotatePoint } from './image-ops';

export interface SslSampleConfig {
  /** Working side S; images must be S×S. */
  inputSize: number;
  /** Patch side P (S/2 in the reference). */
  patchSize: number;
  rotationDeg: number;
  brightness: number;
  contrast: number;
}

export function sslSampleConfig(inputSize: number, ssl: Pick<SslProfile, 'rotationDeg' | 'brightness' | 'contrast'>): SslSampleConfig {
  if (inputSize % 2 !== 0) throw new Error(`ssl sample: inputSize must be even, got ${inputSize}`);
  return { inputSize, patchSize: inputSize / 2, rotationDeg: ssl.rotationDeg, brightness: ssl.brightness, contrast: ssl.contrast };
}

export interface SslSample {
  /** The jittered, rotated P×P patch. */
  patch: GrayImage;
  /** Anchor cell in the patch after rotation, [y, x]. */
  patchYX: [number, number];
  /** The same anatomical point in the full image, [y, x] (integer; the pre-rotation anchor). */
  imageYX: [number, number];
  /** Draw details, for tests and debugging. */
  cropYX: [number, number];
  angleRad: number;
  brightnessFactor: number;
  contrastFactor: number;
  brightnessFirst: boolean;
}

/** Bounds [lo, hi) of the reference's anchor square and the rotation-safe disk inside it. */
export function anchorRegion(patchSize: number): { lo: number; hi: number; centre: number; radius: number } {
  const lo = Math.floor(0.1 * patchSize);
  const hi = Math.floor(0.9 * patchSize);
  const centre = (patchSize - 1) / 2;
  // Largest disk about the centre whose points all lie in [lo, hi − 1] on both axes.
  const radius = Math.min(centre - lo, hi - 1 - centre);
  if (!(radius > 0)) throw new Error(`ssl sample: patch side ${patchSize} is too small for an anchor region`);
  return { lo, hi, centre, radius };
}

/** Draws one sample. Consumes a data-dependent but deterministic number of PRNG draws. */
export function drawSslSample(image: GrayImage, prng: Prng, cfg: SslSampleConfig): SslSample {
  const S = cfg.inputSize;
  const P = cfg.patchSize;
  if (image.height !== S || image.width !== S) throw new Error(`ssl sample: image is ${image.height}x${image.width}, expected ${S}x${S}`);
  if (P < 1 || P >= S) throw new Error(`ssl sample: patch side ${P} must be in [1, ${S})`);
  const y0 = prng.int(S - P);
  const x0 = prng.int(S - P);

  const { lo, hi, centre, radius } = anchorRegion(P);
  let ay = 0;
  let ax = 0;
  for (let tries = 0; ; tries++) {
    if (tries > 10_000) throw new Error('ssl sample: anchor rejection sampling did not terminate');
    ay = lo + prng.int(hi - lo);
    ax = lo + prng.int(hi - lo);
    if ((ay - centre) ** 2 + (ax - centre) ** 2 <= radius * radius) break;
  }

  // ColorJitter: order first, then the factors (torchvision draws the permutation first).
  const brightnessFirst = prng.next() < 0.5;
  const brightnessFactor = prng.uniform(1 - cfg.brightness, 1 + cfg.brightness);
  const contrastFactor = prng.uniform(1 - cfg.contrast, 1 + cfg.contrast);
  const angleRad = (prng.uniform(-cfg.rotationDeg, cfg.rotationDeg) * Math.PI) / 180;

  const raw = crop(image, y0, x0, P, P);
  const px = quantise8(raw);
  if (brightnessFirst) {
    if (cfg.brightness > 0) adjustBrightness8(px, brightnessFactor);
    if (cfg.contrast > 0) adjustContrast8(px, contrastFactor);
  } else {
    if (cfg.contrast > 0) adjustContrast8(px, contrastFactor);
    if (cfg.brightness > 0) adjustBrightness8(px, brightnessFactor);
  }
  const jittered = new Float32Array(P * P);
  for (let i = 0; i < px.length; i++) jittered[i] = px[i]! / 255;
  const patch = rotateBilinear({ height: P, width: P, data: jittered }, angleRad);

  const [ry, rx] = rotatePoint([ay, ax], [centre, centre], angleRad);
  const patchYX: [number, number] = [clampInt(Math.round(ry), 0, P - 1), clampInt(Math.round(rx), 0, P - 1)];
  return {
    patch,
    patchYX,
    imageYX: [y0 + ay, x0 + ax],
    cropYX: [y0, x0],
    angleRad,
    brightnessFactor,
    contrastFactor,
    brightnessFirst,
  };
}

function clampInt(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** A batch as typed arrays (NHWC with one channel), ready to become tensors in a tidy scope. */
export interface SslBatch {
  size: number;
  inputSize: number;
  patchSize: number;
  /** [size, S, S] images. */
  images: Float32Array;
  /** [size, P, P] patches. */
  patches: Float32Array;
  /** [size, 2] anchor [y, x] in each patch. */
  patchYX: Int32Array;
  /** [size, 2] anchor [y, x] in each image. */
  imageYX: Int32Array;
}

/** One sample per listed image index, in order. */
export function makeSslBatch(images: readonly GrayImage[], indices: readonly number[], prng: Prng, cfg: SslSampleConfig): SslBatch {
  const S = cfg.inputSize;
  const P = cfg.patchSize;
  const n = indices.length;
  const batch: SslBatch = {
    size: n, inputSize: S, patchSize: P,
    images: new Float32Array(n * S * S),
    patches: new Float32Array(n * P * P),
    patchYX: new Int32Array(n * 2),
    imageYX: new Int32Array(n * 2),
  };
  indices.forEach((idx, b) => {
    const img = images[idx];
    if (!img) throw new Error(`ssl batch: no image at index ${idx}`);
    assertGrayImage(img, `image ${idx}`);
    const s = drawSslSample(img, prng, cfg);
    batch.images.set(img.data, b * S * S);
    batch.patches.set(s.patch.data, b * P * P);
    batch.patchYX.set(s.patchYX, b * 2);
    batch.imageYX.set(s.imageYX, b * 2);
  });
  return batch;
}
