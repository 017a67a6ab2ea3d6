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

/**
 * Which of `labels` (image i's labels for `load`'s image i) come back within `maxRoundTrip` cells:
 * the template and the images are embedded into one bank (template first; `load(start, end)`
 * gives images start..end−1), and each image's labels are matched back into the template.
 * `onProgress(done, total)` after each embedded chunk and each matched image (2·n + 1 in all).
 */
export async function roundTripMask(input: {
  matcher: SslMatcher;
  template: GrayImage;
  templateLandmarks: readonly PointYX[];
  labels: readonly (readonly PointYX[])[];
  load: (start: number, end: number) => Promise<GrayImage[]>;
  maxRoundTrip: number;
  onProgress?: (done: number, total: number) => void;
}): Promise<RoundTripMask> {
  const { matcher, template, templateLandmarks, labels, maxRoundTrip } = input;
  if (!(maxRoundTrip > 0)) throw new Error(`roundTripMask: maxRoundTrip must be a positive number of cells, got ${maxRoundTrip}`);
  const n = labels.length;
  const total = 2 * n + 1;
  const bank = await embedIntoBank(matcher, n + 1, async (a, b) => [
    ...(a === 0 ? [template] : []),
    ...(await input.load(Math.max(a - 1, 0), b - 1)),
  ], (done) => input.onProgress?.(done, total));
  try {
    const trips = await labelRoundTrips(bank, 0, templateLandmarks, labels.map((points, i) => ({ index: i + 1, points })), (done) => input.onProgress?.(n + 1 + done, total));
    const mask = trips.map((row) => row.map((d) => d <= maxRoundTrip));
    return { mask, leftOut: mask.flat().filter((use) => !use).length };
  } finally {
    bank.dispose();
  }
}
