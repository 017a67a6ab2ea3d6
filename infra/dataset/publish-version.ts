/**
 * What every importer (ISBI layout ./ingest, site folder ./site/ingest-site) does the same way:
 * reading and hashing source files, making the working PNGs and grid cells of one image,
 * assembling labels.json and the image part of dataset.json, and publishing the version with
 * its manifest last. Importers own only their layout, validation and ground-truth rules.
 */
import { readFile } from 'node:fs/promises';
import type { ImageFormatName } from '../../contracts/documents';
import { InvalidDatasetKeyError } from '../errors';
import type { ObjectStore } from '../storage/object-store';
import { sha256Hex } from '../storage/hash';
import { publishWithManifest } from '../storage/manifest';
import { toWorkingYx } from './ground-truth';
import { compareIds } from './layout';
import { isSafeKeySegment } from './safe-path';
import { DATASET_FILES, type DatasetDescription, type DatasetLabels, type DatasetSplit, type ImageLabels } from './published';
import { INGEST_FORMAT_VERSION, type GreyImage8, type IngestProgress, type PointXY } from './types';
import { makeWorkingPng } from './working-image';

export interface SourceFile {
  path: string;
  relPath: string;
}

export interface WorkingPng {
  relKey: string;
  bytes: Uint8Array;
}

/** The outcome of one image: its labels (none after a problem) and working PNGs. */
export interface ProcessedImage {
  id: string;
  labels?: ImageLabels;
  pngs: WorkingPng[];
  problems: string[];
  warnings: string[];
}

export const MIN_SIZE = 16;
export const MAX_SIZE = 2048;

/** Problems of the working sizes parameter ("sizes: …"), empty when valid. */
export function sizeProblems(sizes: readonly number[] | undefined): string[] {
  const errors: string[] = [];
  if (!Array.isArray(sizes) || sizes.length === 0) errors.push('sizes: at least one size is required');
  for (const s of sizes ?? []) {
    if (!Number.isInteger(s) || s < MIN_SIZE || s > MAX_SIZE) errors.push(`sizes: ${String(s)} is not an integer in [${MIN_SIZE}, ${MAX_SIZE}]`);
  }
  return errors;
}

export function sortedSizes(sizes: readonly number[]): number[] {
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/** The folder path and site name end up in messages and keys: refuse NUL and non-slug sites. */
export function checkKeySafety(dir: string, dirField: string, site: string | undefined): void {
  const offenders: string[] = [];
  if (dir.includes('\0')) offenders.push(`${dirField} (NUL character)`);
  if (site !== undefined && !isSafeKeySegment(site)) offenders.push(`site ${JSON.stringify(site)} (must be a lower-case slug: a-z 0-9 _ -)`);
  if (offenders.length > 0) throw new InvalidDatasetKeyError(offenders);
}

export const RESIZE_NOTE = 'whole image to SxS, aspect not kept; Pillow-compatible anti-aliased bilinear (triangle filter widened by the shrink factor)';
export const WORKING_IMAGE_NOTE = '8-bit greyscale PNG at images/<S>/<id>.png';

/** Reads a file; a read error becomes "relPath: cannot read (CODE)" in `problems`. */
export async function readSource(file: SourceFile, problems: string[]): Promise<Buffer | undefined> {
  return readFile(file.path).catch((err: NodeJS.ErrnoException) => {
    problems.push(`${file.relPath}: cannot read (${err.code ?? 'error'})`);
    return undefined;
  });
}

/** Reads a file again for decoding and checks it still has the hashed content (the version id covers it). */
export async function readHashed(file: SourceFile, sha256: string, problems: string[]): Promise<Buffer | undefined> {
  const bytes = await readSource(file, problems);
  if (bytes === undefined) return undefined;
  if (sha256Hex(bytes) !== sha256) {
    problems.push(`${file.relPath}: file changed during ingestion`);
    return undefined;
  }
  return bytes;
}

/** Per working size S: the grid cells of `truncXyPx` and the S×S PNG of the image. */
export async function workingFiles(
  id: string,
  image: GreyImage8,
  truncXyPx: readonly PointXY[] | undefined,
  sizes: readonly number[],
): Promise<{ workingYx: Record<string, Array<[number, number]>>; pngs: WorkingPng[] }> {
  const workingYx: Record<string, Array<[number, number]>> = {};
  const pngs: WorkingPng[] = [];
  for (const size of sizes) {
    if (truncXyPx !== undefined) workingYx[String(size)] = toWorkingYx(truncXyPx, image.width, image.height, size);
    pngs.push({ relKey: DATASET_FILES.image(size, id), bytes: await makeWorkingPng(image, size) });
  }
  return { workingYx, pngs };
}

export function buildLabels(processed: readonly ProcessedImage[], landmarkNames: readonly string[]): DatasetLabels {
  const images: Record<string, ImageLabels> = {};
  const ids: string[] = [];
  for (const p of processed) {
    if (p.labels === undefined) continue;
    images[p.id] = p.labels;
    ids.push(p.id);
  }
  ids.sort(compareIds);
  return { format: 'cc2d-labels-v2', landmarkCount: landmarkNames.length, landmarkNames: [...landmarkNames], ids, images };
}

export type OriginalSize = { widthPx: number; heightPx: number; images: number };

export function distinctSizes(labels: DatasetLabels): OriginalSize[] {
  const m = new Map<string, OriginalSize>();
  for (const id of labels.ids) {
    const l = labels.images[id] as ImageLabels;
    const k = `${l.widthPx}x${l.heightPx}`;
    const cur = m.get(k) ?? { widthPx: l.widthPx, heightPx: l.heightPx, images: 0 };
    cur.images++;
    m.set(k, cur);
  }
  return [...m.values()].sort((a, b) => b.images - a.images || a.widthPx - b.widthPx || a.heightPx - b.heightPx);
}

/** The note published when images differ in size (it follows from the content, so it is part of dataset.json). */
export function sizesNote(sizesSeen: readonly OriginalSize[]): string[] {
  return sizesSeen.length > 1 ? [`images have ${sizesSeen.length} different original sizes; each is scaled by its own size`] : [];
}

/** The image-format part of dataset.json: formats, original sizes and (one size, one spacing) mm per working pixel. */
export function describeImages(
  labels: DatasetLabels,
  sizesSeen: readonly OriginalSize[],
  sizes: readonly number[],
  spacingMm: number | null,
): Pick<DatasetDescription, 'imageFormat' | 'imageFormats' | 'originalSizes' | 'mmPerWorkingPx'> & { formatKeys: ImageFormatName[] } {
  const formats: Partial<Record<ImageFormatName, number>> = {};
  for (const id of labels.ids) {
    const f = (labels.images[id] as ImageLabels).sourceFormat;
    formats[f] = (formats[f] ?? 0) + 1;
  }
  const formatKeys = Object.keys(formats) as ImageFormatName[];
  const only = sizesSeen.length === 1 ? sizesSeen[0] : undefined;
  const mmPerWorkingPx =
    only === undefined || spacingMm === null
      ? undefined
      : Object.fromEntries(sizes.map((s) => [String(s), { y: (spacingMm * only.heightPx) / s, x: (spacingMm * only.widthPx) / s }]));
  return {
    formatKeys,
    imageFormat: formatKeys.length === 1 ? (formatKeys[0] as ImageFormatName) : 'mixed',
    imageFormats: formats,
    originalSizes: [...sizesSeen],
    ...(mmPerWorkingPx !== undefined ? { mmPerWorkingPx } : {}),
  };
}

export interface VersionId {
  prefix: string;
  datasetVersion: string;
  sizes: readonly number[];
  counts: Record<string, number>;
}

export interface VersionContent {
  processed: readonly ProcessedImage[];
  labels: DatasetLabels;
  split: DatasetSplit;
  description: DatasetDescription;
}

/**
 * Uploads the working PNGs and the three JSON documents, then the manifest (publishWithManifest):
 * the version is visible only when complete. If another ingest of the same input finished first,
 * the identical manifest is found and the version counts as reused (content-addressed).
 */
export async function publishVersion(
  store: ObjectStore,
  v: VersionId,
  c: VersionContent,
  io: { signal?: AbortSignal | undefined; report: (progress: IngestProgress) => void },
): Promise<{ reused: boolean; objectsWritten: number }> {
  const files = [
    ...c.processed.flatMap((p) => p.pngs),
    { relKey: DATASET_FILES.labels, bytes: jsonBytes(c.labels) },
    { relKey: DATASET_FILES.split, bytes: jsonBytes(c.split) },
    { relKey: DATASET_FILES.description, bytes: jsonBytes(c.description) },
  ];
  io.signal?.throwIfAborted();
  io.report({ phase: 'publish', done: 0, total: files.length });
  const published = await publishWithManifest(store, v.prefix, files, {
    kind: 'dataset',
    datasetVersion: v.datasetVersion,
    format: INGEST_FORMAT_VERSION,
    sizes: [...v.sizes],
    counts: { ...v.counts },
  });
  const reused = published.alreadyPublished;
  return { reused, objectsWritten: reused ? 0 : files.length + 1 };
}

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(value)}\n`);
}
