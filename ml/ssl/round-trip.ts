/**
 * Round trip of labelled points (a per-label confidence): image n's labels are described in image n
 * (its embedding vectors at those points) and cascade-matched back into the template; how far from
 * the template's own landmark each lands, in working-grid cells. A pseudo-label that matching got
 * wrong tends to come back far from where it started (bench/profiling/cycle-confidence-on-run.ts
 * relates the two on ISBI); template ranking's cycle score applies the same idea to a grid of
 * points of a whole image (./template-ranking.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { GrayImage, PointYX } from '../types';
import type { SslMatcher } from './matching';
import { embedIntoBank, type EmbeddingBank } from './template-ranking';

export interface LabelledImage {
  /** The image's index in the bank. */
  index: number;
  /** Its labels, one per template landmark, on the working grid. */
  points: readonly PointYX[];
}

/** Round trip (cells) of every label of every image, in input order; `onMatched` after each image. */
export async function labelRoundTrips(
  bank: EmbeddingBank, templateIndex: number, templateLandmarks: readonly PointYX[], labelled: readonly LabelledImage[], onMatched?: (done: number) => void,
): Promise<number[][]> {
  const out: number[][] = [];
  for (const { index, points } of labelled) {
    if (points.length !== templateLandmarks.length) {
      throw new Error(`labelRoundTrips: image ${index} has ${points.length} labels, the template ${templateLandmarks.length} landmarks`);
    }
    const desc = bank.describe(index, points);
    let back: PointYX[];
    try {
      back = (await bank.match(desc, [templateIndex]))[0]!;
    } finally {
      tf.dispose(desc);
    }
    out.push(back.map(([y, x], k) => Math.hypot(y - templateLandmarks[k]![0], x - templateLandmarks[k]![1])));
    onMatched?.(out.length);
  }
  return out;
}

export interface RoundTripMask {
  /** Per image and landmark: whether the label's round trip is within the limit (same shape as the labels). */
  mask: boolean[][];
  /** Labels outside it. */
  leftOut: number;
}

export interface TemplateRoundTripInput {
  matcher: SslMatcher;
  template: GrayImage;
  templateLandmarks: readonly PointYX[];
  /** Image i's labels, for `load`'s image i. */
  labels: readonly (readonly PointYX[])[];
  /** Images start..end−1 of the labelled images. */
  load: (start: number, end: number) => Promise<GrayImage[]>;
  /** After each embedded chunk and each matched image (2·n + 1 in all). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Round trips (cells) of every label of the loaded images: the template and the images are
 * embedded into one bank (template first), and each image's labels matched back into the template.
 */
export async function templateRoundTrips(input: TemplateRoundTripInput): Promise<number[][]> {
  const { matcher, template, templateLandmarks, labels } = input;
  const n = labels.length;
  const total = 2 * n + 1;
  const bank = await embedIntoBank(matcher, n + 1, async (a, b) => [
    ...(a === 0 ? [template] : []),
    ...(await input.load(Math.max(a - 1, 0), b - 1)),
  ], (done) => input.onProgress?.(done, total));
  try {
    return await labelRoundTrips(bank, 0, templateLandmarks, labels.map((points, i) => ({ index: i + 1, points })), (done) => input.onProgress?.(n + 1 + done, total));
  } finally {
    bank.dispose();
  }
}

/** Which labels come back within `maxRoundTrip` cells (templateRoundTrips). */
export async function roundTripMask(input: TemplateRoundTripInput & { maxRoundTrip: number }): Promise<RoundTripMask> {
  const { maxRoundTrip } = input;
  if (!(maxRoundTrip > 0)) throw new Error(`roundTripMask: maxRoundTrip must be a positive number of cells, got ${maxRoundTrip}`);
  const mask = (await templateRoundTrips(input)).map((row) => row.map((d) => d <= maxRoundTrip));
  return { mask, leftOut: mask.flat().filter((use) => !use).length };
}
