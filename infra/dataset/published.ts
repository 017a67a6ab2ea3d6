/**
 * The published form of a dataset version, under `datasets/<versionId>/` (written by ./ingest):
 *
 *   images/<S>/<id>.png   8-bit greyscale PNG, the whole image resized to S×S (aspect not kept)
 *   labels.json           DatasetLabels
 *   split.json            DatasetSplit
 *   dataset.json          DatasetDescription
 *   manifest.json         written last by publishWithManifest: the version exists once it exists
 *
 * Readers should take paths from here rather than spelling keys themselves.
 */
import type { CellYX, ImageFormat, PointXY, Split } from './types';

export const DATASETS_PREFIX = 'datasets';

export function datasetPrefix(versionId: string): string {
  return `${DATASETS_PREFIX}/${versionId}`;
}

/** Relative keys inside the version prefix. */
export const DATASET_FILES = {
  labels: 'labels.json',
  split: 'split.json',
  description: 'dataset.json',
  image: (size: number, id: string): string => `images/${size}/${id}.png`,
} as const;

export interface ImageLabels {
  split: Split;
  widthPx: number;
  heightPx: number;
  sourceFormat: ImageFormat;
  /** sha256 of the source image file. */
  sourceSha256: string;
  /** [x, y] original pixels, as in the annotation files. */
  seniorXyPx: PointXY[];
  juniorXyPx: PointXY[];
  /** int(0.5·(junior + senior)) per coordinate, [x, y] original px: the paper protocol GT (spec §1.4). */
  gtTruncXyPx: PointXY[];
  /** 0.5·(junior + senior), [x, y] original px: the clean protocol GT (spec §6.3). */
  gtMeanXyPx: PointXY[];
  /** Per working size S (as a string key): [y, x] = [int(y·S/H), int(x·S/W)] of gtTruncXyPx (spec §1.5). */
  workingYx: Record<string, CellYX[]>;
}

export interface DatasetLabels {
  format: 'cc2d-labels-v1';
  landmarkCount: number;
  /** Ids in order (numeric for all-digit ids). */
  ids: string[];
  images: Record<string, ImageLabels>;
}

export type DatasetSplit = Record<Split, string[]>;

export interface DatasetDescription {
  format: string;
  datasetVersion: string;
  name: string;
  pixelSpacingMm: number;
  sizes: number[];
  landmarkCount: number;
  counts: { images: number } & Record<Split, number>;
  /** Splits with at least one image. */
  splits: Split[];
  /** Test ids present, per test split; an evaluation covers only these (spec §1.3, §6.4). */
  testIdsCovered: { test1: string[]; test2: string[] };
  /** 'jpeg' | 'png' | 'bmp', or 'mixed' (see imageFormats). The project copy is JPEG, the official release BMP. */
  imageFormat: ImageFormat | 'mixed';
  imageFormats: Partial<Record<ImageFormat, number>>;
  /** Distinct original sizes; each image's own size is used for its scaling. */
  originalSizes: Array<{ widthPx: number; heightPx: number; images: number }>;
  /** mm per working-grid cell along y and x, per size; present only when all images share one original size. */
  mmPerWorkingPx?: Record<string, { y: number; x: number }>;
  groundTruth: { paper: string; clean: string };
  resize: string;
  workingImage: string;
  source: { layout: string; description: string; files: number };
  /** Non-blocking notes that follow from the content (e.g. mixed original sizes). */
  warnings: string[];
}
