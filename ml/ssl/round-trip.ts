/**
 * Round trip of labelled points (a per-label confidence): image n's labels are described in image n
 * (its embedding vectors at those points) and cascade-matched back into the template; how far from
 * the template's own landmark each lands, in working-grid cells. A pseudo-label the matching got
 * wrong tends to come back far from where it started; template ranking's cycle score applies the
 * same idea to a grid of points of a whole image (./template-ranking.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { PointYX } from '../types';
import type { EmbeddingBank } from './template-ranking';

export interface LabelledImage {
  /** The image's index in the bank. */
  index: number;
  /** Its labels, one per template landmark, on the working grid. */
  points: readonly PointYX[];
}

/** Round trip (cells) of every label of every image, in input order. */
export async function labelRoundTrips(bank: EmbeddingBank, templateIndex: number, templateLandmarks: readonly PointYX[], labelled: readonly LabelledImage[]): Promise<number[][]> {
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
  }
  return out;
}
