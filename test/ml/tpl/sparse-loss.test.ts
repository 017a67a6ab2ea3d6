import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { ParamStore } from '../../../ml/core/params';
import { Prng } from '../../../ml/core/prng';
import { encodeDiskEntries, encodeHeatmapOffset, maxDiskRows } from '../../../ml/tpl/codec';
import { tplLoss, tplLossSparse } from '../../../ml/tpl/loss';
import { defineTplNetwork, splitTplOutput, tplFeatures, tplForward, tplHeadAtRows, tplHeatLogits } from '../../../ml/tpl/network';
import type { PointYX } from '../../../ml/types';

/** [K, H, W] planes of each image → one NHWC [B, H, W, K] tensor. */
function nhwc(planes: Float32Array[], h: number, w: number, k: number): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(Float32Array.from(planes.flatMap((p) => Array.from(p))), [planes.length, k, h, w]), [0, 2, 3, 1]) as tf.Tensor4D);
}

describe('sparse disk-pixel offsets (trainer fast path)', () => {
  it('encodeDiskEntries lists distinct rows and one entry per (image, landmark, disk pixel)', () => {
    // Two landmarks one pixel apart share most disk pixels: rows are deduplicated, entries not.
    const d = encodeDiskEntries([[[2, 2], [2, 3]]], 6, 8, 1, 2);
    expect(Array.from(d.rows)).toEqual([2 * 8 + 2, 2 * 8 + 3]);
    // R = 1: each disk is its own pixel; K = 2 → 3K = 6; x-offset channel of landmark k is 2 + k.
    expect(Array.from(d.entries)).toEqual([0 * 6 + 2 + 0, 1 * 6 + 2 + 1]);
    const e = encodeDiskEntries([[[2, 2], [2, 3]]], 6, 8, 2, 2);
    expect(e.entries.length).toBe(2 * 9); // 9 pixels with d < 2 each
    expect(new Set(e.rows).size).toBe(e.rows.length);
    expect(e.rows.length).toBe(12); // union of two 3×3-ish disks shifted by one column
  });

  it('pads to a fixed row count with distinct pixels no entry refers to; the bound holds wherever the centres lie', () => {
    const labels: PointYX[][] = [[[2, 2], [2, 3]], [[5, 7.5], [0.5, 0]]];
    const plain = encodeDiskEntries(labels, 6, 8, 2, 2);
    const max = maxDiskRows(2, 6, 8, 2, 2);
    expect(max).toBe(2 * 2 * 16); // (2R)² = 16 pixels a disk
    expect(maxDiskRows(2, 4, 4, 2, 2)).toBe(2 * 4 * 4); // capped by the batch's pixels
    const padded = encodeDiskEntries(labels, 6, 8, 2, 2, max);
    expect(padded.rows.length).toBe(max);
    expect(Array.from(padded.rows.subarray(0, plain.rows.length))).toEqual(Array.from(plain.rows));
    expect(new Set(padded.rows).size).toBe(max);
    expect(Array.from(padded.entries)).toEqual(Array.from(plain.entries));
    expect(Math.max(...Array.from(padded.entries, (e) => Math.floor(e / 6)))).toBeLessThan(plain.rows.length);
    expect(() => encodeDiskEntries(labels, 6, 8, 2, 2, plain.rows.length - 1)).toThrow(/padRowsTo/);
    expect(() => encodeDiskEntries(labels, 6, 8, 2, 2, 2 * 6 * 8 + 1)).toThrow(/padRowsTo/);
    // The bound is reached at R = 1 (a disk centred between four cells) and never passed, wherever the centre lies.
    expect(encodeDiskEntries([[[40.5, 40.5]]], 96, 96, 1, 1).rows.length).toBe(maxDiskRows(1, 96, 96, 1, 1));
    const prng = Prng.fromSeed(11);
    for (const R of [1, 2, 3, 6, 10]) {
      const bound = maxDiskRows(1, 96, 96, R, 1);
      for (let t = 0; t < 200; t++) {
        const one = encodeDiskEntries([[[40 + prng.uniform(0, 1), 40 + prng.uniform(0, 1)]]], 96, 96, R, 1);
        expect(one.rows.length).toBeLessThanOrEqual(bound);
      }
    }
  });

  it.each([false, true])('gives the same loss and the same parameter gradients as the dense tplLoss (rows padded: %s)', (pad) => {
    const K = 3;
    const S = 64;
    const R = 6;
    const p = new ParamStore(Prng.fromSeed(2));
    defineTplNetwork(p, { width: 0.0625, landmarkCount: K });
    const vars = [...p.trainable.values()];
    // Borders, overlapping disks, two images.
    const labels: PointYX[][] = [[[0, 0], [30, 31], [31, 33]], [[63, 10], [5, 63], [40, 40]]];
    const dense = labels.map((l) => encodeHeatmapOffset(l, S, S, R));
    const sparse = encodeDiskEntries(labels, S, S, R, K, pad ? maxDiskRows(2, S, S, R, K) : undefined);
    const xs = tf.randomUniform([2, S, S, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
    const heatT = nhwc(dense.map((d) => d.heatmap), S, S, K);
    const oxT = nhwc(dense.map((d) => d.offsetX), S, S, K);
    const oyT = nhwc(dense.map((d) => d.offsetY), S, S, K);
    const rows = tf.tensor1d(sparse.rows, 'int32');
    const disk = { entries: tf.tensor1d(sparse.entries, 'int32'), offsetX: tf.tensor1d(sparse.offsetX), offsetY: tf.tensor1d(sparse.offsetY) };
    try {
      let partsA: number[] = [];
      let partsB: number[] = [];
      const a = tf.variableGrads(() => {
        const l = tplLoss(splitTplOutput(tplForward(p, xs), K), { heat: heatT, offsetX: oxT, offsetY: oyT }, 2);
        partsA = [l.heat, l.l1x, l.l1y].map((t) => t.dataSync()[0]!);
        return l.total;
      }, vars);
      const b = tf.variableGrads(() => {
        const f = tplFeatures(p, xs);
        const l = tplLossSparse(tplHeatLogits(p, f, K), heatT, tplHeadAtRows(p, f, rows), disk, 2);
        partsB = [l.heat, l.l1x, l.l1y].map((t) => t.dataSync()[0]!);
        return l.total;
      }, vars);
      partsB.forEach((v, i) => expect(v).toBeCloseTo(partsA[i]!, 5));
      expect(b.value.dataSync()[0]).toBeCloseTo(a.value.dataSync()[0]!, 5);
      for (const v of vars) {
        const ga = a.grads[v.name]!.dataSync();
        const gb = b.grads[v.name]!.dataSync();
        let scale = 1e-12;
        let diff = 0;
        for (let i = 0; i < ga.length; i++) {
          scale = Math.max(scale, Math.abs(ga[i]!));
          diff = Math.max(diff, Math.abs(ga[i]! - gb[i]!));
        }
        expect(diff / scale, v.name).toBeLessThan(1e-4);
      }
      tf.dispose([a.value, b.value, ...Object.values(a.grads), ...Object.values(b.grads)]);
    } finally {
      tf.dispose([xs, heatT, oxT, oyT, rows, disk.entries, disk.offsetX, disk.offsetY]);
      p.dispose();
    }
  });
});
