/**
 * Shared types of a site folder: images anywhere under `images/`, annotations for some of them
 * under `landmarks/`, optional `spacing.csv` at the root. Landmark coordinates are in pixels of the
 * original image: x = column, y = row, origin at the top-left pixel's centre (index space).
 */
import { ImageProblem } from '../bmp-problem';

export type SiteImageFormat = 'png' | 'jpeg' | 'bmp' | 'tiff' | 'dicom';

export type SpacingSource = 'dicom-PixelSpacing' | 'dicom-ImagerPixelSpacing' | 'spacing.csv' | 'fixed';

/** Square pixel spacing in millimetres and where it came from. */
export interface Spacing {
  mm: number;
  source: SpacingSource;
}

export interface NamedPoint {
  name: string;
  x: number;
  y: number;
}

/** One entry of a site's problem report; `file` is relative to the site folder. */
export interface SiteProblem {
  file: string;
  problem: string;
}

/** An ImageProblem that also names the file (and, for DICOM, the offending tag inside `problem`). */
export class FileProblem extends ImageProblem {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'FileProblem';
  }
}

/** Wraps an error from the shared decoders (which do not name the file) into a FileProblem; rethrows anything else. */
export function withFile(file: string, err: unknown): FileProblem {
  if (err instanceof FileProblem) return err;
  if (err instanceof ImageProblem) return new FileProblem(file, err.message);
  throw err;
}
