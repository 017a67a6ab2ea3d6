/**
 * Test-time augmentation of the TPL predictor: each image is also predicted under a few
 * similarity transforms about its centre (scales, shifts, small rotations; never flips: lateral
 * cephalograms have no left/right landmark pairs), the points are mapped back to the original
 * grid and combined per landmark by a confidence-weighted coordinate median, which ignores a
 * minority of views that jumped to a wrong structure.
 */
import { sampleBilinear } from '../data/image-ops';
import type { PredictedLandmarks } from '../tpl/predict';
import type { GrayImage, PointYX } from '../types';

export interface TtaSettings {
  /** Zoom factors besides 1 (e.g. 0.9, 1.1). */
  scales: readonly number[];
  /** Shifts in grid cells, applied along y and x separately in both directions (±s). */
  shifts: readonly number[];
  /** Rotations in degrees besides 0 (e.g. -4, 4). */
  rotationsDeg: readonly number[];
}

/** A similarity transform about the image centre: q = c + scale·R(angle)·(p − c) + shift. */
export interface ViewTransform {
  scale: number;
  angleRad: number;
  /** [dy, dx] in grid cells. */
  shift: PointYX;
}

/** The identity first, then each scale, each ±shift along y and x, each rotation (one factor per view, not their product). */
export function ttaViews(settings: TtaSettings): ViewTransform[] {
  const views: ViewTransform[] = [{ scale: 1, angleRad: 0, shift: [0, 0] }];
  for (const s of settings.scales) if (s !== 1) views.push({ scale: s, angleRad: 0, shift: [0, 0] });
  for (const d of settings.shifts) {
    if (d === 0) continue;
    for (const shift of [[d, 0], [-d, 0], [0, d], [0, -d]] as PointYX[]) views.push({ scale: 1, angleRad: 0, shift });
  }
  for (const a of settings.rotationsDeg) if (a !== 0) views.push({ scale: 1, angleRad: (a * Math.PI) / 180, shift: [0, 0] });
  return views;
}

function centreOf(height: number, width: number): PointYX {
  return [(height - 1) / 2, (width - 1) / 2];
}

/** Where a point of the original grid lands in the transformed view (rotation as displayed: x right, y down). */
export function forwardPoint(p: PointYX, t: ViewTransform, height: number, width: number): PointYX {
  const [cy, cx] = centreOf(height, width);
  const c = Math.cos(t.angleRad) * t.scale;
  const s = Math.sin(t.angleRad) * t.scale;
  const dy = p[0] - cy;
  const dx = p[1] - cx;
  return [cy - s * dx + c * dy + t.shift[0], cx + c * dx + s * dy + t.shift[1]];
}

/** The inverse of `forwardPoint`: a point found in the view, on the original grid. */
export function inversePoint(q: PointYX, t: ViewTransform, height: number, width: number): PointYX {
  const [cy, cx] = centreOf(height, width);
  const c = Math.cos(t.angleRad) / t.scale;
  const s = Math.sin(t.angleRad) / t.scale;
  const dy = q[0] - t.shift[0] - cy;
  const dx = q[1] - t.shift[1] - cx;
  return [cy + s * dx + c * dy, cx + c * dx - s * dy];
}

/** The view of an image: bilinear, zero outside (as the SSL stage's rotations), so an object at p appears at forwardPoint(p). */
export function warpImage(img: GrayImage, t: ViewTransform): GrayImage {
  const { height: h, width: w } = img;
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [sy, sx] = inversePoint([y, x], t, h, w);
      const v = sampleBilinear(img, sy, sx, 0);
      out[y * w + x] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return { height: h, width: w, data: out };
}

/** Weighted median of values (the smallest value whose cumulative weight reaches half the total); unweighted when every weight is 0. */
export function weightedMedian(values: readonly number[], weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  const w = total > 0 ? weights : values.map(() => 1);
  const half = (total > 0 ? total : values.length) / 2;
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
  let acc = 0;
  for (const i of order) {
    acc += w[i]!;
    if (acc >= half) return values[i]!;
  }
  return values[order[order.length - 1]!]!;
}

/**
 * Combines one image's per-view predictions (already on the original grid). Per landmark: the
 * confidence-weighted median of y and of x, rounded to a cell inside the grid. Peak and agreement
 * are the views' medians; the confidence is the mean over views of each view's confidence when
 * it lies within `radius` of the combined point and 0 otherwise, so views that disagree lower it.
 */
export function combineViews(views: readonly PredictedLandmarks[], height: number, width: number, radius: number): PredictedLandmarks {
  const k = views[0]!.landmarks.length;
  const out: PredictedLandmarks = { landmarks: [], votes: [], peak: [], agreement: [], confidence: [] };
  const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, Math.round(v)));
  const median = (xs: number[]) => weightedMedian(xs, xs.map(() => 1));
  for (let j = 0; j < k; j++) {
    const w = views.map((v) => v.confidence[j]!);
    const y = clamp(weightedMedian(views.map((v) => v.landmarks[j]![0]), w), height - 1);
    const x = clamp(weightedMedian(views.map((v) => v.landmarks[j]![1]), w), width - 1);
    let conf = 0;
    for (const v of views) {
      const [py, px] = v.landmarks[j]!;
      if ((py - y) ** 2 + (px - x) ** 2 < radius * radius) conf += v.confidence[j]!;
    }
    out.landmarks.push([y, x]);
    out.votes.push(views[0]!.votes[j]!);
    out.peak.push(median(views.map((v) => v.peak[j]!)));
    out.agreement.push(median(views.map((v) => v.agreement[j]!)));
    out.confidence.push(conf / views.length);
  }
  return out;
}

/** Something that predicts landmarks with confidences (the TPL predictor's `predictDetailed`). */
export type DetailedPredict = (images: readonly GrayImage[]) => Promise<PredictedLandmarks[]>;

/**
 * Predicts every image under every view (one predictor call per image, views batched) and
 * combines them (`combineViews`). Points come back on the original grid, unrounded per view.
 */
export async function predictWithTta(predict: DetailedPredict, images: readonly GrayImage[], settings: TtaSettings, radius: number): Promise<PredictedLandmarks[]> {
  const views = ttaViews(settings);
  const out: PredictedLandmarks[] = [];
  for (const img of images) {
    const warped = views.map((t, i) => (i === 0 ? img : warpImage(img, t)));
    const preds = await predict(warped);
    const mapped = preds.map((p, i) => ({ ...p, landmarks: p.landmarks.map((q) => inversePoint(q, views[i]!, img.height, img.width)) }));
    out.push(combineViews(mapped, img.height, img.width, radius));
  }
  return out;
}
