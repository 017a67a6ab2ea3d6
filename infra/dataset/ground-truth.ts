/**
 * Ground-truth arithmetic (docs/method.md#ground-truth, #preprocessing, #protocol-a, #protocol-b). Pure functions on plain arrays.
 *
 * - Paper protocol: per coordinate int(0.5·(junior + senior)) in original pixels (Python `int`
 *   truncates toward zero; coordinates are non-negative so this is a floor), then on the S grid
 *   y_S = int(y·S/H), x_S = int(x·S/W), stored as [y, x]. The product is formed before the
 *   division, as CC2D does; for these magnitudes both are exact/correctly rounded doubles, so the
 *   result equals Python's.
 * - Clean protocol: the untruncated mean 0.5·(junior + senior), in original pixels.
 */
import type { CellYX, PointXY } from './types';

export interface GroundTruth {
  /** int(0.5·(junior + senior)) per coordinate, [x, y] original px (paper protocol). */
  gtTruncXyPx: PointXY[];
  /** 0.5·(junior + senior), [x, y] original px (clean protocol). */
  gtMeanXyPx: PointXY[];
}

export function groundTruth(senior: readonly PointXY[], junior: readonly PointXY[]): GroundTruth {
  if (senior.length !== junior.length) throw new Error(`senior has ${senior.length} points, junior ${junior.length}`);
  const gtMeanXyPx = senior.map((s, i): PointXY => {
    const j = junior[i] as PointXY;
    return [0.5 * (j[0] + s[0]), 0.5 * (j[1] + s[1])];
  });
  const gtTruncXyPx = gtMeanXyPx.map(([x, y]): PointXY => [Math.trunc(x), Math.trunc(y)]);
  return { gtTruncXyPx, gtMeanXyPx };
}

/** Maps [x, y] original-pixel points onto the S×S working grid as [y, x] cells (aspect not kept). */
export function toWorkingYx(pointsXyPx: readonly PointXY[], widthPx: number, heightPx: number, size: number): CellYX[] {
  return pointsXyPx.map(([x, y]): CellYX => [Math.trunc((y * size) / heightPx), Math.trunc((x * size) / widthPx)]);
}

/** Largest senior–junior distance in mm over the landmarks of one image. */
export function maxDoctorDisagreementMm(senior: readonly PointXY[], junior: readonly PointXY[], pixelSpacingMm: number): number {
  let max = 0;
  senior.forEach((s, i) => {
    const j = junior[i] as PointXY;
    max = Math.max(max, Math.hypot(s[0] - j[0], s[1] - j[1]) * pixelSpacingMm);
  });
  return max;
}
