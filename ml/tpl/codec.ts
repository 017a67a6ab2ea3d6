/**
 * Heatmap + offset codec of the TPL stage (docs/method.md#tpl-targets, #tpl-voting), pure typed-array code.
 *
 * Shape vocabulary: K landmarks, H×W map (the working grid, e.g. 192×192), R disk radius in
 * pixels. Landmarks are integer [y, x] cells on that grid.
 *
 * Encoding, per landmark k and pixel p = (py, px):
 *   heat(k, p) = 1 when ‖p − l_k‖ < R (Euclidean, in pixels), else 0;
 *   offX(k, p) = (l_x − px)/R and offY(k, p) = (l_y − py)/R inside the disk, 0 outside.
 * The disk is centred ON the landmark. The reference centres it one pixel up-left of the
 * landmark (its 2R×2R stamp measures distance from (i+1−R, j+1−R)) while its offsets point at
 * the landmark itself, and near the top/left border it slices the stamp from its first row /
 * column instead of the clipped part, which shifts the whole stamp (docs/method.md#trap-disk). We do NOT keep
 * either quirk: disk and offsets share one centre and borders are clipped per pixel.
 *
 * Decoding ("voting"), per landmark: take the top C = int(3.14·R²) heatmap pixels (ties broken
 * towards the lower row-major index, as TF's TopK does); each candidate votes for
 * (py + trunc(oy·R), px + trunc(ox·R)) with the product taken in float32 like the reference's
 * numpy float32 arithmetic; votes outside the map are dropped; every vote counts 1; the cell
 * with most votes wins, the first in row-major order on ties. If every vote falls outside, the
 * reference's arg-max of an all-zero map returns cell (0, 0); so do we (`votes` is then 0).
 */
import type { PointYX } from '../types';

/** Per-landmark planes, each H×W row-major: index k·H·W + y·W + x. */
export interface HeatmapOffsetTargets {
  heatmap: Float32Array;
  offsetX: Float32Array;
  offsetY: Float32Array;
  height: number;
  width: number;
  landmarkCount: number;
}

/** Disk radius in pixels for a working grid side and the profile's radius fraction (int(0.05·384) = 19). */
export function diskRadius(inputSize: number, radiusFraction: number): number {
  const r = Math.trunc(inputSize * radiusFraction);
  if (r < 1) throw new Error(`diskRadius: inputSize ${inputSize} × radiusFraction ${radiusFraction} gives a radius below 1 px`);
  return r;
}

/** Number of voting candidates per landmark, int(3.14·R²) (1133 for R = 19). */
export function voteCandidates(radius: number): number {
  return Math.trunc(3.14 * radius * radius);
}

function checkGrid(fn: string, height: number, width: number, radius: number): void {
  if (!Number.isInteger(height) || height < 1) throw new Error(`${fn}: height must be a positive integer, got ${height}`);
  if (!Number.isInteger(width) || width < 1) throw new Error(`${fn}: width must be a positive integer, got ${width}`);
  if (!Number.isInteger(radius) || radius < 1) throw new Error(`${fn}: radius must be a positive integer, got ${radius}`);
}

/**
 * Calls `visit(k, y, x, offsetX, offsetY)` for every disk pixel of every landmark, in landmark
 * order then row-major order: the pixels with ‖(y, x) − l_k‖ < R inside the H×W map, with
 * offsets (l − p)/R. The single definition of the disk geometry used by every encoder here.
 * With `use`, landmark k is skipped where `use[k]` is false (a label that does not train).
 */
export function forEachDiskPixel(
  landmarks: readonly PointYX[], height: number, width: number, radius: number,
  visit: (k: number, y: number, x: number, offsetX: number, offsetY: number) => void,
  use?: readonly boolean[],
): void {
  checkGrid('forEachDiskPixel', height, width, radius);
  const r2 = radius * radius;
  landmarks.forEach((lm, k) => {
    if (use?.[k] === false) return;
    const [ly, lx] = lm;
    if (!Number.isFinite(ly) || !Number.isFinite(lx)) throw new Error(`disk encoding: landmark ${k} is not finite: [${ly}, ${lx}]`);
    const y0 = Math.max(0, Math.ceil(ly - radius));
    const y1 = Math.min(height - 1, Math.floor(ly + radius));
    const x0 = Math.max(0, Math.ceil(lx - radius));
    const x1 = Math.min(width - 1, Math.floor(lx + radius));
    for (let y = y0; y <= y1; y++) {
      const dy = ly - y;
      for (let x = x0; x <= x1; x++) {
        const dx = lx - x;
        if (dx * dx + dy * dy < r2) visit(k, y, x, dx / radius, dy / radius);
      }
    }
  });
}

/**
 * Low-level encoder writing into caller-owned arrays. Element (k, y, x) goes to
 * `base + y·rowStride + x·colStride + k·chanStride` of each array; only disk pixels are
 * written, so the arrays must be zero where the caller wants zeros. `offsetX` / `offsetY` may
 * be omitted (heatmap only).
 */
export function writeHeatmapOffset(
  landmarks: readonly PointYX[], height: number, width: number, radius: number,
  out: { heatmap: Float32Array; offsetX?: Float32Array; offsetY?: Float32Array },
  layout: { base: number; rowStride: number; colStride: number; chanStride: number },
  use?: readonly boolean[],
): void {
  const { base, rowStride, colStride, chanStride } = layout;
  const { heatmap, offsetX, offsetY } = out;
  forEachDiskPixel(landmarks, height, width, radius, (k, y, x, ox, oy) => {
    const i = base + k * chanStride + y * rowStride + x * colStride;
    heatmap[i] = 1;
    if (offsetX) offsetX[i] = ox;
    if (offsetY) offsetY[i] = oy;
  }, use);
}

/** Targets for one image, as K planes of H×W (see the file comment for the exact definition). */
export function encodeHeatmapOffset(landmarks: readonly PointYX[], height: number, width: number, radius: number): HeatmapOffsetTargets {
  checkGrid('encodeHeatmapOffset', height, width, radius);
  const k = landmarks.length;
  const n = k * height * width;
  const t: HeatmapOffsetTargets = {
    heatmap: new Float32Array(n), offsetX: new Float32Array(n), offsetY: new Float32Array(n),
    height, width, landmarkCount: k,
  };
  writeHeatmapOffset(landmarks, height, width, radius, t, { base: 0, rowStride: width, colStride: 1, chanStride: height * width });
  return t;
}

/**
 * Indices of the `count` largest values of `values[start, start+n)`, relative to `start`, in
 * no particular order; among equal values the lower index wins. O(n) on average (quickselect
 * on a scratch copy).
 */
export function topKIndices(values: Float32Array, start: number, n: number, count: number, scratch?: Float32Array): Int32Array {
  const c = Math.min(count, n);
  const out = new Int32Array(c);
  if (c === 0) return out;
  const buf = scratch && scratch.length >= n ? scratch.subarray(0, n) : new Float32Array(n);
  buf.set(values.subarray(start, start + n));
  // Quickselect the c-th largest value (index c−1 in descending order).
  let lo = 0;
  let hi = n - 1;
  const target = c - 1;
  while (lo < hi) {
    const pivot = buf[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (buf[i]! > pivot) i++;
      while (buf[j]! < pivot) j--;
      if (i <= j) {
        const t = buf[i]!;
        buf[i] = buf[j]!;
        buf[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  const threshold = buf[target]!;
  // All values above the threshold, then values equal to it in index order until full.
  let m = 0;
  for (let i = 0; i < n; i++) if (values[start + i]! > threshold) out[m++] = i;
  for (let i = 0; i < n && m < c; i++) if (values[start + i] === threshold) out[m++] = i;
  if (m !== c) throw new Error(`topKIndices: selected ${m} of ${c} (NaN in the heatmap?)`);
  return out;
}

export interface VotingResult {
  /** [y, x] per landmark on the H×W grid. */
  landmarks: PointYX[];
  /** Winning vote count per landmark (the reference's "voting uncertainty"). */
  votes: number[];
}

/**
 * Voting for one landmark from its candidates: candidate c sits at row-major index
 * `indices[c]` and carries offsets (ox, oy) = (offsetX[c], offsetY[c]); it votes for
 * (py + trunc(oy·R), px + trunc(ox·R)), the product rounded to float32 first. `score` is an
 * H·W scratch array that must be all zero; it is zero again on return.
 */
export function voteOne(
  indices: ArrayLike<number>, offsetX: ArrayLike<number>, offsetY: ArrayLike<number>,
  height: number, width: number, radius: number, score: Int32Array,
): { landmark: PointYX; votes: number } {
  const touched: number[] = [];
  for (let c = 0; c < indices.length; c++) {
    const i = indices[c]!;
    const py = (i / width) | 0;
    const px = i - py * width;
    const vy = py + Math.trunc(Math.fround(offsetY[c]! * radius));
    const vx = px + Math.trunc(Math.fround(offsetX[c]! * radius));
    if (vy < 0 || vy >= height || vx < 0 || vx >= width) continue;
    const cell = vy * width + vx;
    if (score[cell] === 0) touched.push(cell);
    score[cell]! += 1;
  }
  // Most votes wins; among equals the lowest row-major index (numpy's argmax). No vote at all:
  // the reference's argmax of an all-zero map, cell 0.
  let best = 0;
  let bestVotes = 0;
  for (const cell of touched) {
    const v = score[cell]!;
    if (v > bestVotes || (v === bestVotes && cell < best)) {
      best = cell;
      bestVotes = v;
    }
  }
  for (const cell of touched) score[cell] = 0;
  const by = (best / width) | 0;
  return { landmark: [by, best - by * width], votes: bestVotes };
}

export interface VoteConfidence {
  /** Highest heatmap probability among the candidates within R of the winner (0 when none is). */
  peak: number;
  /** Share of the candidates whose vote falls within R of the winner (0-1). */
  agreement: number;
  /** sqrt(peak · agreement), in [0, 1]: both must be high for a confident landmark. */
  confidence: number;
}

/**
 * Confidence of one voted landmark from the same candidates `voteOne` saw (`heat[c]` = the
 * heatmap probability at candidate c): a sharp, high heatmap peak at the winner AND votes that
 * agree on it. Either alone misleads: a high peak with scattered votes means the offsets disagree;
 * unanimous votes from a flat, low heatmap mean the model barely saw the landmark.
 * Distances are Euclidean, strictly below R, as for the disk.
 */
export function voteConfidence(
  indices: ArrayLike<number>, offsetX: ArrayLike<number>, offsetY: ArrayLike<number>, heat: ArrayLike<number>,
  width: number, radius: number, winner: PointYX,
): VoteConfidence {
  const [wy, wx] = winner;
  const r2 = radius * radius;
  let peak = 0;
  let agreeing = 0;
  for (let c = 0; c < indices.length; c++) {
    const i = indices[c]!;
    const py = (i / width) | 0;
    const px = i - py * width;
    if ((py - wy) ** 2 + (px - wx) ** 2 < r2 && heat[c]! > peak) peak = heat[c]!;
    const vy = py + Math.trunc(Math.fround(offsetY[c]! * radius));
    const vx = px + Math.trunc(Math.fround(offsetX[c]! * radius));
    if ((vy - wy) ** 2 + (vx - wx) ** 2 < r2) agreeing++;
  }
  const agreement = indices.length > 0 ? agreeing / indices.length : 0;
  return { peak, agreement, confidence: Math.sqrt(peak * agreement) };
}

/**
 * Decodes K landmarks from planar heatmap / offset maps (each K·H·W, as `encodeHeatmapOffset`
 * lays them out; the heatmap holds probabilities, any monotone score works). `landmarkCount`
 * is K; the number of vote candidates is int(3.14·R²).
 */
export function decodeVotingDetailed(
  heatmap: Float32Array, offsetX: Float32Array, offsetY: Float32Array,
  height: number, width: number, radius: number, landmarkCount: number,
): VotingResult {
  checkGrid('decodeVoting', height, width, radius);
  const hw = height * width;
  const need = landmarkCount * hw;
  for (const [name, a] of [['heatmap', heatmap], ['offsetX', offsetX], ['offsetY', offsetY]] as const) {
    if (a.length !== need) throw new Error(`decodeVoting: ${name} has ${a.length} values, expected K·H·W = ${landmarkCount}·${height}·${width} = ${need}`);
  }
  const candidates = voteCandidates(radius);
  const scratch = new Float32Array(hw);
  const score = new Int32Array(hw);
  const landmarks: PointYX[] = [];
  const votes: number[] = [];
  for (let k = 0; k < landmarkCount; k++) {
    const base = k * hw;
    const idx = topKIndices(heatmap, base, hw, candidates, scratch);
    const ox = new Float32Array(idx.length);
    const oy = new Float32Array(idx.length);
    for (let c = 0; c < idx.length; c++) {
      ox[c] = offsetX[base + idx[c]!]!;
      oy[c] = offsetY[base + idx[c]!]!;
    }
    const r = voteOne(idx, ox, oy, height, width, radius, score);
    landmarks.push(r.landmark);
    votes.push(r.votes);
  }
  return { landmarks, votes };
}

/** `decodeVotingDetailed` without the vote counts. */
export function decodeVoting(
  heatmap: Float32Array, offsetX: Float32Array, offsetY: Float32Array,
  height: number, width: number, radius: number, landmarkCount: number,
): PointYX[] {
  return decodeVotingDetailed(heatmap, offsetX, offsetY, height, width, radius, landmarkCount).landmarks;
}

/**
 * Sparse offset targets of a batch: the disk pixels of every image and landmark, for evaluating
 * the offset heads only where the offset loss lives (the trainer's fast path).
 * - `rows`: the DISTINCT pixels holding at least one disk pixel, as b·H·W + y·W + x, in order
 *   of first appearance (image, landmark, row-major);
 * - per disk entry e (image b, landmark k, pixel p): `entries[e]` = u·3K + K + k where u is the
 *   position of p in `rows` (the x-offset channel of landmark k in a [rows, 3K] head output; + K
 *   gives the y-offset), and the targets `offsetX[e]`, `offsetY[e]` = (l − p)/R.
 * Entries come in the order of `writeHeatmapOffset`'s visits (image, landmark, row-major).
 */
export interface DiskEntries {
  rows: Int32Array;
  entries: Int32Array;
  offsetX: Float32Array;
  offsetY: Float32Array;
}

/**
 * The most rows `encodeDiskEntries` can list for `images` images: every disk whole and apart. The
 * radius is an integer (checkGrid) and a disk pixel lies strictly within it, so at most 2R grid
 * lines per axis meet a disk wherever its centre lies: at most (2R)² pixels (reached at R = 1).
 */
export function maxDiskRows(images: number, height: number, width: number, radius: number, landmarkCount: number): number {
  checkGrid('maxDiskRows', height, width, radius);
  return Math.min(images * height * width, images * landmarkCount * (2 * radius) ** 2);
}

/**
 * `padRowsTo`: list that many rows, the disk pixels first and then distinct pixels no disk
 * touches (no entry refers to them, so they get no gradient). A fixed row count gives the
 * offset head's matmul one shape for the whole training: with a new shape per batch, TF's oneDNN
 * kernels cache a primitive per shape and the process grew by ~0.7 MiB a step
 * (bench/profiling/rss-stages.ts, docs/speed.md "Memory").
 * `use[b]`: which landmarks of image b train (forEachDiskPixel); an unused one has no entries.
 */
export function encodeDiskEntries(
  batch: readonly (readonly PointYX[])[], height: number, width: number, radius: number, landmarkCount: number, padRowsTo?: number,
  use?: readonly (readonly boolean[] | undefined)[],
): DiskEntries {
  const hw = height * width;
  const rowOf = new Int32Array(batch.length * hw).fill(-1);
  const rows: number[] = [];
  const entries: number[] = [];
  const ox: number[] = [];
  const oy: number[] = [];
  const k3 = 3 * landmarkCount;
  batch.forEach((landmarks, b) => {
    if (landmarks.length !== landmarkCount) throw new Error(`encodeDiskEntries: image ${b} has ${landmarks.length} landmarks, expected ${landmarkCount}`);
    forEachDiskPixel(landmarks, height, width, radius, (k, y, x, dx, dy) => {
      const pixel = b * hw + y * width + x;
      let u = rowOf[pixel]!;
      if (u < 0) {
        u = rows.length;
        rowOf[pixel] = u;
        rows.push(pixel);
      }
      entries.push(u * k3 + landmarkCount + k);
      ox.push(dx);
      oy.push(dy);
    }, use?.[b]);
  });
  if (padRowsTo !== undefined) {
    if (padRowsTo < rows.length || padRowsTo > rowOf.length) throw new Error(`encodeDiskEntries: padRowsTo ${padRowsTo} outside [${rows.length}, ${rowOf.length}] (the disk rows, the batch's pixels)`);
    for (let pixel = 0; rows.length < padRowsTo; pixel++) if (rowOf[pixel]! < 0) rows.push(pixel);
  }
  return { rows: Int32Array.from(rows), entries: Int32Array.from(entries), offsetX: Float32Array.from(ox), offsetY: Float32Array.from(oy) };
}
