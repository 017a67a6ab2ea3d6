/**
 * TEST-ONLY accuracy gate for pipeline runs. A finite MRE proves nothing (a model predicting
 * (0, 0) everywhere has one), so a run must beat trivial predictors on the same test images:
 * the template's points copied to every image, and the untrained network.
 *
 * The MRE here is a deliberately separate implementation (it does not import ml/metrics): it
 * recomputes a run's stored metrics from its stored predictions and the dataset's labels, so
 * a bug in the metric code cannot hide itself.
 */

/** One test image as stored: predicted [y, x] working-grid cells, truth as in labels.json. */
export interface GateImage {
  predictedYx: ReadonlyArray<readonly [number, number]>;
  /** Untruncated doctors' mean, [x, y] original pixels. */
  truthMeanXy: ReadonlyArray<readonly [number, number]>;
  heightPx: number;
  widthPx: number;
}

export interface GateGrid {
  /** Side of the square working grid the predictions live on. */
  gridSize: number;
  spacingMm: number;
}

/**
 * Mean radial error in mm over every landmark of every image.
 * 'A': truth truncated to whole original pixels, then to a grid cell; the cell distance is
 * scaled per axis to mm. 'B': the prediction is scaled back to original pixels unrounded (to the
 * centre of its cell: (p + ½)·W/S) and compared with the untruncated truth.
 */
export function meanRadialErrorMm(images: readonly GateImage[], protocol: 'A' | 'B', { gridSize: S, spacingMm: s }: GateGrid): number {
  let sum = 0;
  let n = 0;
  for (const img of images) {
    if (img.predictedYx.length !== img.truthMeanXy.length) throw new Error(`${img.predictedYx.length} predicted vs ${img.truthMeanXy.length} true landmarks`);
    const ky = img.heightPx / S;
    const kx = img.widthPx / S;
    img.predictedYx.forEach(([py, px], i) => {
      const [tx, ty] = img.truthMeanXy[i]!;
      const [dy, dx] = protocol === 'A'
        ? [(py - Math.floor((Math.floor(ty) * S) / img.heightPx)) * ky, (px - Math.floor((Math.floor(tx) * S) / img.widthPx)) * kx]
        : [(py + 0.5) * ky - ty, (px + 0.5) * kx - tx];
      sum += Math.hypot(dy, dx) * s;
      n++;
    });
  }
  if (n === 0) throw new Error('no landmarks to score');
  return sum / n;
}

export interface GateBaseline {
  name: string;
  mreMm: number;
  /** The model passes this baseline when its MRE is at most maxRatio × the baseline's MRE. */
  maxRatio: number;
}

/** One line per baseline the model does not beat by its margin (empty: passed), with the numbers. */
export function accuracyGateFailures(modelMreMm: number, baselines: readonly GateBaseline[]): string[] {
  if (!Number.isFinite(modelMreMm)) return [`model MRE is ${modelMreMm}, not a finite number`];
  return baselines
    .filter((b) => !(modelMreMm <= b.maxRatio * b.mreMm))
    .map((b) => `model MRE ${modelMreMm.toFixed(3)} mm is not below ${b.maxRatio} × ${b.name} (${b.mreMm.toFixed(3)} mm) = ${(b.maxRatio * b.mreMm).toFixed(3)} mm`);
}
