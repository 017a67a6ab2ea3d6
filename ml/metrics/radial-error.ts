/**
 * Radial errors in mm under the two evaluation protocols of docs/method.md#evaluation (pure numbers).
 *
 * Notation: S = working grid side (384 in the paper), H × W = the image's original size
 * (2400 × 1935 for ISBI), s = mm per original pixel (0.1 for ISBI), m = [m_y, m_x] = ground
 * truth in original pixels = the UNtruncated mean 0.5·(junior + senior), p = [p_y, p_x] =
 * prediction on the S × S grid.
 *
 * Protocol A ("paper", what the paper's numbers mean, docs/method.md#protocol-a): the truth is the doubly
 * truncated grid point g = [int(int(m_y)·S/H), int(int(m_x)·S/W)] and
 *   error = sqrt(((p_y − g_y)·s·H/S)² + ((p_x − g_x)·s·W/S)²)
 * (0.625 mm per grid row and 0.50390625 mm per grid column for ISBI at S = 384). Arithmetic in
 * the reference's order: s·H/S as (s·H)/S, each axis term squared, then the root.
 *
 * Protocol B ("clean", docs/method.md#protocol-b): the prediction goes back to original pixels unrounded,
 * to the centre of the original pixels its grid cell stands for, q = [(p_y + ½)·H/S, (p_x + ½)·W/S]
 * (`gridToOriginalXy`, also what `predict` exports), and error = s·sqrt((q_y − m_y)² + (q_x − m_x)²),
 * computed as sqrt(((q_y − m_y)·s)² + ((q_x − m_x)·s)²).
 */
import type { PointYX } from '../types';

export type EvalProtocol = 'A' | 'B';

/** One evaluated image. */
export interface LandmarkEvalCase {
  /** Image id, e.g. "151" (ISBI ids are three-digit strings). */
  id: string;
  /** Predicted [y, x] per landmark on the gridSize × gridSize working grid. */
  predicted: readonly PointYX[];
  /** Ground truth [y, x] per landmark in original pixels: the untruncated mean of the doctors. */
  truth: readonly PointYX[];
  /** Original image height H and width W in pixels. */
  originalHeight: number;
  originalWidth: number;
  /** mm per original pixel for this image; overrides the options' spacingMm. */
  spacingMm?: number;
}

export interface RadialErrorOptions {
  protocol: EvalProtocol;
  /** Side S of the square working grid the predictions live on. */
  gridSize: number;
  /** mm per original pixel when a case does not give its own (default 0.1, ISBI). */
  spacingMm?: number;
}

export const ISBI_SPACING_MM = 0.1;

/** The mean of the two doctors' points, untruncated (the ground truth of docs/method.md#ground-truth truncates it; protocol A does that itself). */
export function meanOfDoctors(junior: readonly PointYX[], senior: readonly PointYX[]): PointYX[] {
  if (junior.length !== senior.length) throw new Error(`meanOfDoctors: ${junior.length} junior vs ${senior.length} senior landmarks`);
  return junior.map((j, i) => [0.5 * (j[0] + senior[i]![0]), 0.5 * (j[1] + senior[i]![1])]);
}

/** Protocol A's truth on the grid: [int(int(m_y)·S/H), int(int(m_x)·S/W)] (int truncates toward 0, as Python's int()). */
export function protocolATruth(truth: PointYX, originalHeight: number, originalWidth: number, gridSize: number): PointYX {
  return [
    Math.trunc((Math.trunc(truth[0]) * gridSize) / originalHeight),
    Math.trunc((Math.trunc(truth[1]) * gridSize) / originalWidth),
  ];
}

/**
 * A working-grid prediction [y, x] in original pixels, [x, y] (protocol B's mapping and the exported
 * landmarks, unrounded). Labels reach the grid as the cell that holds them, int(x·S/W)
 * (infra/dataset/ground-truth.ts), so cell j stands for the original span [j·W/S, (j+1)·W/S) and a
 * point predicted at j (or at j + f, refined: integer = cell centre, ml/refine rescalePoint) is
 * mapped to that span's centre, (j + ½)·W/S. The bare j·W/S, the span's top-left corner, put every
 * landmark half a cell up and left (0.50 × 0.63 mm at S = 192 on ISBI; docs/accuracy.md#cell-centre).
 */
export function gridToOriginalXy(p: PointYX, originalHeight: number, originalWidth: number, gridSize: number): [number, number] {
  return [((p[1] + 0.5) * originalWidth) / gridSize, ((p[0] + 0.5) * originalHeight) / gridSize];
}

function checkCase(c: LandmarkEvalCase, opts: RadialErrorOptions): number {
  const where = `case "${c.id}"`;
  if (!(Number.isInteger(opts.gridSize) && opts.gridSize > 0)) throw new Error(`radialErrorsMm: gridSize must be a positive integer, got ${opts.gridSize}`);
  if (opts.protocol !== 'A' && opts.protocol !== 'B') throw new Error(`radialErrorsMm: protocol must be "A" or "B", got ${String(opts.protocol)}`);
  if (!(c.originalHeight > 0 && c.originalWidth > 0)) throw new Error(`${where}: original size must be positive, got ${c.originalHeight}×${c.originalWidth}`);
  if (c.predicted.length !== c.truth.length) throw new Error(`${where}: ${c.predicted.length} predicted vs ${c.truth.length} true landmarks`);
  const spacing = c.spacingMm ?? opts.spacingMm ?? ISBI_SPACING_MM;
  if (!(spacing > 0 && Number.isFinite(spacing))) throw new Error(`${where}: spacingMm must be a positive number, got ${spacing}`);
  for (const [what, pts] of [['predicted', c.predicted], ['truth', c.truth]] as const) {
    pts.forEach((p, i) => {
      if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) throw new Error(`${where}: ${what}[${i}] is not finite: [${p[0]}, ${p[1]}]`);
    });
  }
  return spacing;
}

/** Radial error in mm of every landmark of one image, in landmark order. */
export function radialErrorsMm(c: LandmarkEvalCase, opts: RadialErrorOptions): number[] {
  const s = checkCase(c, opts);
  const S = opts.gridSize;
  const H = c.originalHeight;
  const W = c.originalWidth;
  if (opts.protocol === 'A') {
    const fy = (s * H) / S;
    const fx = (s * W) / S;
    return c.predicted.map((p, i) => {
      const g = protocolATruth(c.truth[i]!, H, W, S);
      return Math.sqrt(((p[0] - g[0]) * fy) ** 2 + ((p[1] - g[1]) * fx) ** 2);
    });
  }
  return c.predicted.map((p, i) => {
    const m = c.truth[i]!;
    const [qx, qy] = gridToOriginalXy(p, H, W, S);
    const dy = qy - m[0];
    const dx = qx - m[1];
    return Math.sqrt((dy * s) ** 2 + (dx * s) ** 2);
  });
}
