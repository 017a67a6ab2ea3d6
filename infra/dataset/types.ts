/**
 * Shared types and constants of dataset ingestion (ISBI 2015 cephalometric layout, docs/method.md#data).
 *
 * Coordinate conventions (docs/method.md#data-isbi, #preprocessing):
 * - `…XyPx`: [x, y] in ORIGINAL image pixels (x = column, y = row, origin top left), as in the
 *   annotation files.
 * - `…Yx`: [y, x] cells on a square working grid of side S (CC2D's convention).
 */

/** Bump whenever the published layout or any derived byte (resampler, PNG settings, JSON shape) changes. */
export const INGEST_FORMAT_VERSION = 'cc2d-ingest-v2';

/** Landmarks per image in the ISBI 2015 set; extra lines after these are ignored. */
export const LANDMARK_COUNT = 19;

/**
 * Names of the 19 ISBI 2015 cephalometric landmarks, in the official order (docs/method.md#data-isbi).
 * The ISBI importer publishes them as the dataset's landmark names.
 */
export const ISBI_LANDMARK_NAMES: readonly string[] = [
  'Sella',
  'Nasion',
  'Orbitale',
  'Porion',
  'Subspinale (A point)',
  'Supramentale (B point)',
  'Pogonion',
  'Menton',
  'Gnathion',
  'Gonion',
  'Lower incisal incision',
  'Upper incisal incision',
  'Upper lip',
  'Lower lip',
  'Subnasale',
  'Soft-tissue pogonion',
  'Posterior nasal spine',
  'Anterior nasal spine',
  'Articulare',
];


/** Pixel cap per decoded image (docs/reliability.md#b2: decompression bombs). 1935×2400 ≈ 4.6 MP; CL-Detection pads to ≈ 6.9 MP. */
export const MAX_INPUT_PIXELS = 50_000_000;

/** Cap on images per dataset (docs/reliability.md#b2: bound total work and memory). */
export const MAX_IMAGES = 5000;

export type Split = 'train' | 'test1' | 'test2';

export const SPLIT_FOLDERS: Record<Split, string> = {
  train: 'TrainingData',
  test1: 'Test1Data',
  test2: 'Test2Data',
};

export type Doctor = 'senior' | 'junior';

export const DOCTOR_FOLDERS: Record<Doctor, string> = {
  senior: '400_senior',
  junior: '400_junior',
};

export type ImageFormat = 'jpeg' | 'png' | 'bmp';
export type { SpacingSource } from '../../contracts/documents';

export const IMAGE_EXTENSIONS: Record<string, ImageFormat> = {
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.png': 'png',
  '.bmp': 'bmp',
};

/** [x, y] in original pixels. */
export type PointXY = [number, number];

/** [y, x] on a working grid. */
export type CellYX = [number, number];

/** One image of the layout with its two annotation files (absolute, canonical paths). */
export interface LayoutEntry {
  id: string;
  split: Split;
  image: { path: string; relPath: string; format: ImageFormat };
  senior: { path: string; relPath: string };
  junior: { path: string; relPath: string };
}

/** Result of scanning a dataset folder; nothing has been read beyond directory listings. */
export interface Layout {
  /** Canonical (realpath) dataset root. */
  root: string;
  entries: LayoutEntry[];
  /** Each "relPath: problem"; any problem makes the dataset invalid. */
  problems: string[];
  /** Ignored files and other notes that do not block ingestion. */
  warnings: string[];
}

/** A decoded 8-bit single-channel image, row-major. */
export interface GreyImage8 {
  width: number;
  height: number;
  data: Uint8Array;
}

export type IngestPhase = 'scan' | 'hash' | 'process' | 'publish' | 'done';

export interface IngestProgress {
  phase: IngestPhase;
  done: number;
  total: number;
}
