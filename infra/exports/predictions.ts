/**
 * The exported form of one prediction request: what `cc2d predict` writes (CSV, JSON, 3D Slicer
 * markups) and what is published under `sites/<site>/predictions/<request sha>/`. Pure functions:
 * the same predictions always give the same bytes (fixed key order, fixed decimals, no clock).
 *
 * Coordinates are in pixels of the original image (x = column, y = row, origin at the top-left
 * pixel's centre, as the site's landmark files), and in mm when the image's spacing is known.
 */
import { toSlicerMarkups } from '../dataset/site/landmark-files';

export const PREDICTIONS_FORMAT = 'cc2d-predictions-v1';
export const CSV_HEADER = ['image', 'landmark', 'x_px', 'y_px', 'x_mm', 'y_mm', 'confidence', 'flag'] as const;
/** The `flag` of a landmark whose confidence is below the request's threshold. */
export const LOW_CONFIDENCE = 'low-confidence';

export interface PredictedLandmark {
  name: string;
  xPx: number;
  yPx: number;
  /** In [0, 1] (ml/tpl voteConfidence). */
  confidence: number;
}

export interface ImagePredictions {
  image: string;
  widthPx: number;
  heightPx: number;
  /** mm per pixel; null when unknown (then no mm coordinates). */
  spacingMm: number | null;
  landmarks: PredictedLandmark[];
}

export interface PredictionModelInfo {
  runId: string;
  site: string;
  tplWeightsSha256: string;
  profile: string;
  /** Dataset version and code version the model was trained with. */
  datasetVersion: string;
  codeVersion: string;
}

export interface PredictionSet {
  requestSha256: string;
  model: PredictionModelInfo;
  /** The dataset version predicted, when the request named one. */
  inputDatasetVersion?: string;
  flagBelow: number;
  landmarkNames: string[];
  images: ImagePredictions[];
}

/** Fixed decimals, then the shortest form (no trailing zeros, never "-0"). */
function fixed(value: number, decimals: number): number {
  const v = Number(value.toFixed(decimals));
  return Object.is(v, -0) ? 0 : v;
}

const PX_DECIMALS = 3;
const MM_DECIMALS = 4;
const CONFIDENCE_DECIMALS = 4;

export function isFlagged(confidence: number, flagBelow: number): boolean {
  return confidence < flagBelow;
}

/** One CSV field, quoted only when it must be (RFC 4180). */
export function csvField(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per image × landmark, in request order then landmark order; CRLF line ends (RFC 4180). */
export function predictionsCsv(set: PredictionSet): string {
  const rows: string[] = [CSV_HEADER.join(',')];
  for (const img of set.images) {
    for (const p of img.landmarks) {
      const mm = img.spacingMm === null ? ['', ''] : [fixed(p.xPx * img.spacingMm, MM_DECIMALS), fixed(p.yPx * img.spacingMm, MM_DECIMALS)];
      rows.push([
        img.image, p.name, fixed(p.xPx, PX_DECIMALS), fixed(p.yPx, PX_DECIMALS), ...mm,
        fixed(p.confidence, CONFIDENCE_DECIMALS), isFlagged(p.confidence, set.flagBelow) ? LOW_CONFIDENCE : '',
      ].map(csvField).join(','));
    }
  }
  return rows.join('\r\n') + '\r\n';
}

/** The JSON document of a request: model and versions, threshold, then the CSV's rows grouped per image. */
export function predictionsDocument(set: PredictionSet): object {
  return {
    format: PREDICTIONS_FORMAT,
    requestSha256: set.requestSha256,
    model: {
      runId: set.model.runId, site: set.model.site, tplWeightsSha256: set.model.tplWeightsSha256, profile: set.model.profile,
      datasetVersion: set.model.datasetVersion, codeVersion: set.model.codeVersion,
    },
    ...(set.inputDatasetVersion !== undefined ? { inputDatasetVersion: set.inputDatasetVersion } : {}),
    flagBelow: set.flagBelow,
    landmarkNames: set.landmarkNames,
    images: set.images.map((img) => ({
      image: img.image,
      widthPx: img.widthPx,
      heightPx: img.heightPx,
      spacingMm: img.spacingMm,
      landmarks: img.landmarks.map((p) => ({
        landmark: p.name,
        xPx: fixed(p.xPx, PX_DECIMALS),
        yPx: fixed(p.yPx, PX_DECIMALS),
        xMm: img.spacingMm === null ? null : fixed(p.xPx * img.spacingMm, MM_DECIMALS),
        yMm: img.spacingMm === null ? null : fixed(p.yPx * img.spacingMm, MM_DECIMALS),
        confidence: fixed(p.confidence, CONFIDENCE_DECIMALS),
        flag: isFlagged(p.confidence, set.flagBelow) ? LOW_CONFIDENCE : null,
      })),
    })),
  };
}

export function predictionsJson(set: PredictionSet): string {
  return JSON.stringify(predictionsDocument(set), null, 2) + '\n';
}

/**
 * The 3D Slicer markups of one image: one control point per landmark, named after it, in mm
 * (LPS). Without a known spacing the points use 1 mm per pixel, which is what Slicer itself
 * assumes for an image without spacing, so the points still land on the image there.
 */
export function imageMarkupsJson(img: ImagePredictions): string {
  // From the unrounded pixels, rounded like the CSV's x_mm (or, without a spacing, its x_px, which
  // the positions then are): the same digits in both files.
  const points = img.landmarks.map((p) => ({ name: p.name, x: p.xPx, y: p.yPx }));
  const decimals = img.spacingMm === null ? PX_DECIMALS : MM_DECIMALS;
  return JSON.stringify(toSlicerMarkups(points, img.spacingMm ?? 1, 'LPS', (v) => fixed(v, decimals)), null, 2) + '\n';
}

/** Relative paths of the exported files, shared by the S3 layout and the local `--out` folder. */
export const EXPORT_FILES = {
  csv: 'predictions.csv',
  json: 'predictions.json',
  markups: (image: string): string => `markups/${image}.mrk.json`,
} as const;

/** An entry of an export folder (its '/'-separated path in it; a folder ends in '/'): what a new export may replace. */
export function isExportFile(relPath: string): boolean {
  const markups = EXPORT_FILES.markups('');
  const folder = markups.slice(0, markups.indexOf('/') + 1);
  if (relPath === EXPORT_FILES.csv || relPath === EXPORT_FILES.json || relPath === folder) return true;
  return relPath.startsWith(folder) && relPath.endsWith(markups.slice(folder.length)) && !relPath.slice(folder.length).includes('/');
}

export type ExportFormat = 'csv' | 'json' | 'mrk';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'json', 'mrk'];

/** Every export of a request, as relative path → bytes (in a stable order). */
export function exportFiles(set: PredictionSet): Array<{ relPath: string; format: ExportFormat; text: string }> {
  return [
    { relPath: EXPORT_FILES.csv, format: 'csv', text: predictionsCsv(set) },
    { relPath: EXPORT_FILES.json, format: 'json', text: predictionsJson(set) },
    ...set.images.map((img) => ({ relPath: EXPORT_FILES.markups(img.image), format: 'mrk' as const, text: imageMarkupsJson(img) })),
  ];
}
