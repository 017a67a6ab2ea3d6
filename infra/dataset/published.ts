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

// The stored shapes are the contract's (contracts/documents.ts); importers write them, readers
// validate them with the same schemas.
export type { DatasetDescription, DatasetLabels, DatasetSplit, ImageLabels } from '../../contracts/documents';
