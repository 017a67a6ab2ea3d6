/**
 * Dataset ingestion: ISBI 2015 layout folder → validated, content-addressed dataset version in the
 * object store (datasets/<versionId>/, see ./published). No Temporal dependency: the activity and
 * the CLI both call `ingestDataset`.
 *
 * 1. Parameters are checked (InvalidConfigError / InvalidDatasetKeyError) before any file is read.
 * 2. The layout is discovered from directory listings (./layout); escaping paths are never opened.
 * 3. Every source file is hashed; the version id follows (./version). If that version is already
 *    published (manifest present) the call returns it with `reused: true` and writes nothing.
 * 4. Every image is decoded, checked against its two annotations, resized to each S and encoded,
 *    at most `concurrency` images at a time. ALL problems are collected; if there is any, one
 *    DatasetInvalidError lists them and nothing is written.
 * 5. Images and JSON files are uploaded, then the manifest last (publishWithManifest), so the
 *    version becomes visible only when complete.
 */
import { DatasetInvalidError, InvalidConfigError } from '../errors';
import type { ObjectStore } from '../storage/object-store';
import { sha256Hex } from '../storage/hash';
import { isPublished } from '../storage/manifest';
import { parseAnnotationBytes } from './annotation';
import { mapLimit } from './concurrency';
import { decodeGrey, ImageProblem } from './decode-image';
import { colourNote } from './grey';
import { groundTruth, maxDoctorDisagreementMm } from './ground-truth';
import { discoverLayout } from './layout';
import { datasetPrefix, type DatasetDescription, type DatasetLabels, type DatasetSplit, type ImageLabels } from './published';
import { buildLabels, checkKeySafety, describeImages, distinctSizes, publishVersion, readHashed, readSource, RESIZE_NOTE, sizeProblems, sizesNote, sortedSizes, WORKING_IMAGE_NOTE, workingFiles, type OriginalSize, type ProcessedImage } from './publish-version';
import {
  INGEST_FORMAT_VERSION,
  ISBI_LANDMARK_NAMES,
  LANDMARK_COUNT,
  MAX_IMAGES,
  MAX_INPUT_PIXELS,
  SPLIT_FOLDERS,
  type IngestProgress,
  type LayoutEntry,
  type Split,
} from './types';
import { computeVersionId, type SourceFileHash } from './version';

export const DEFAULT_PIXEL_SPACING_MM = 0.1;
export const DEFAULT_CONCURRENCY = 2;
/** ISBI's largest senior–junior distance is 22 mm (image 007, landmark 16); far beyond means a wrong file. */
export const DEFAULT_MAX_DOCTOR_DISAGREEMENT_MM = 30;
export { MAX_SIZE, MIN_SIZE } from './publish-version';

export interface IngestOptions {
  datasetDir: string;
  /** Working sizes S (square S×S), e.g. [192, 384]. */
  sizes: readonly number[];
  pixelSpacingMm?: number;
  /** Recorded nowhere in the version (content-addressed); validated as a key-safe name. */
  site?: string;
  concurrency?: number;
  maxImages?: number;
  maxInputPixels?: number;
  maxDoctorDisagreementMm?: number;
  onProgress?: (progress: IngestProgress) => void;
  /** Checked between files; when aborted, its reason is thrown (the activity passes Temporal's cancellation signal). */
  signal?: AbortSignal;
}

export interface IngestCounts {
  images: number;
  train: number;
  test1: number;
  test2: number;
}

export interface IngestResult {
  datasetVersion: string;
  /** `datasets/<datasetVersion>` */
  prefix: string;
  reused: boolean;
  counts: IngestCounts;
  sizes: number[];
  pixelSpacingMm: number;
  warnings: string[];
  /** Objects written by this call (0 when reused). */
  objectsWritten: number;
  durationMs: number;
}

interface NormalisedParams {
  sizes: number[];
  pixelSpacingMm: number;
  /** 'isbi' for the importer's documented 0.1 mm default, 'fixed' when the caller gave one. */
  spacingSource: 'isbi' | 'fixed';
  concurrency: number;
  maxImages: number;
  maxInputPixels: number;
  maxDoctorDisagreementMm: number;
}

export function normaliseParams(options: IngestOptions): NormalisedParams {
  const errors: string[] = [];
  if (typeof options.datasetDir !== 'string' || options.datasetDir.trim() === '') errors.push('datasetDir: required');
  errors.push(...sizeProblems(options.sizes));
  const pixelSpacingMm = options.pixelSpacingMm ?? DEFAULT_PIXEL_SPACING_MM;
  if (!Number.isFinite(pixelSpacingMm) || pixelSpacingMm <= 0 || pixelSpacingMm > 10) errors.push(`pixelSpacingMm: ${pixelSpacingMm} is not in (0, 10]`);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16) errors.push(`concurrency: ${concurrency} is not an integer in [1, 16]`);
  if (errors.length > 0) throw new InvalidConfigError(`ingest: ${errors.join('; ')}`);
  checkKeySafety(options.datasetDir, 'datasetDir', options.site);
  return {
    sizes: sortedSizes(options.sizes),
    pixelSpacingMm,
    spacingSource: options.pixelSpacingMm === undefined ? 'isbi' : 'fixed',
    concurrency,
    maxImages: options.maxImages ?? MAX_IMAGES,
    maxInputPixels: options.maxInputPixels ?? MAX_INPUT_PIXELS,
    maxDoctorDisagreementMm: options.maxDoctorDisagreementMm ?? DEFAULT_MAX_DOCTOR_DISAGREEMENT_MM,
  };
}

interface HashedEntry {
  entry: LayoutEntry;
  imageSha256: string;
  seniorBytes: Uint8Array;
  juniorBytes: Uint8Array;
  seniorSha256: string;
  juniorSha256: string;
}

export async function ingestDataset(store: ObjectStore, options: IngestOptions): Promise<IngestResult> {
  const started = Date.now();
  const params = normaliseParams(options);
  const report = options.onProgress ?? (() => undefined);

  report({ phase: 'scan', done: 0, total: 1 });
  const layout = await discoverLayout(options.datasetDir);
  const problems = [...layout.problems];
  const warnings = [...layout.warnings];
  if (layout.entries.length > params.maxImages) {
    throw new DatasetInvalidError([...problems, `${options.datasetDir}: ${layout.entries.length} images exceed the limit of ${params.maxImages}`]);
  }
  if (layout.entries.length === 0 && problems.length === 0) problems.push(`${options.datasetDir}: no images found under RawImage/`);
  report({ phase: 'scan', done: 1, total: 1 });

  // Hash every source file (annotations are kept; they are small).
  const total = layout.entries.length;
  let hashedCount = 0;
  const hashedOrNot = await mapLimit(layout.entries, 4, async (entry): Promise<HashedEntry | undefined> => {
    options.signal?.throwIfAborted();
    const read = (file: { path: string; relPath: string }): Promise<Buffer | undefined> => readSource(file, problems);
    const [image, seniorBytes, juniorBytes] = await Promise.all([read(entry.image), read(entry.senior), read(entry.junior)]);
    report({ phase: 'hash', done: ++hashedCount, total });
    if (image === undefined || seniorBytes === undefined || juniorBytes === undefined) return undefined;
    return { entry, imageSha256: sha256Hex(image), seniorBytes, juniorBytes, seniorSha256: sha256Hex(seniorBytes), juniorSha256: sha256Hex(juniorBytes) };
  });
  const hashed = hashedOrNot.filter((h): h is HashedEntry => h !== undefined);
  const sourceHashes: SourceFileHash[] = hashed.flatMap((h) => [
    { relPath: h.entry.image.relPath, sha256: h.imageSha256 },
    { relPath: h.entry.senior.relPath, sha256: h.seniorSha256 },
    { relPath: h.entry.junior.relPath, sha256: h.juniorSha256 },
  ]);
  const datasetVersion = computeVersionId(sourceHashes, params);
  const prefix = datasetPrefix(datasetVersion);
  const counts = countSplits(layout.entries);
  const base = { datasetVersion, prefix, counts, sizes: params.sizes, pixelSpacingMm: params.pixelSpacingMm };

  if (problems.length === 0 && (await isPublished(store, prefix))) {
    report({ phase: 'done', done: total, total });
    return { ...base, reused: true, warnings, objectsWritten: 0, durationMs: Date.now() - started };
  }

  // Decode, validate, resize, encode.
  let processedCount = 0;
  // Once any problem is known nothing will be published: keep validating, skip resizing.
  let anyProblem = problems.length > 0;
  const processed = await mapLimit(hashed, params.concurrency, async (h): Promise<ProcessedImage> => {
    options.signal?.throwIfAborted();
    const result = await processEntry(h, params, anyProblem);
    if (result.problems.length > 0) anyProblem = true;
    report({ phase: 'process', done: ++processedCount, total });
    return result;
  });
  for (const p of processed) problems.push(...p.problems);
  if (problems.length > 0) throw new DatasetInvalidError(problems);
  // Working PNGs are held in memory until publish (publishWithManifest takes bytes): about
  // 0.13 MB per image at sizes [192, 384], i.e. ~40 MB for the 300 ISBI images.

  const labels = buildLabels(processed, ISBI_LANDMARK_NAMES);
  const sizesSeen = distinctSizes(labels);
  // dataset.json holds only notes that follow from the hashed content, so equal ids mean equal
  // bytes; notes about the folder (ignored files) are returned to the caller only.
  const contentWarnings: string[] = [...processed.flatMap((p) => p.warnings), ...sizesNote(sizesSeen)];
  warnings.push(...contentWarnings);
  const split = buildSplit(layout.entries);
  const description = buildDescription({
    datasetVersion,
    params,
    counts,
    split,
    labels,
    sizesSeen,
    sourceFiles: sourceHashes.length,
    warnings: contentWarnings,
  });
  const { reused, objectsWritten } = await publishVersion(store, { prefix, datasetVersion, sizes: params.sizes, counts: { ...counts } }, { processed, labels, split, description }, { signal: options.signal, report });
  report({ phase: 'done', done: total, total });
  return { ...base, reused, warnings, objectsWritten, durationMs: Date.now() - started };
}

async function processEntry(h: HashedEntry, params: NormalisedParams, validateOnly: boolean): Promise<ProcessedImage> {
  const { entry } = h;
  const problems: string[] = [];
  const warnings: string[] = [];
  const senior = parseAnnotationBytes(h.seniorBytes);
  const junior = parseAnnotationBytes(h.juniorBytes);
  for (const p of senior.problems) problems.push(`${entry.senior.relPath}: ${p}`);
  for (const p of junior.problems) problems.push(`${entry.junior.relPath}: ${p}`);

  const bytes = await readHashed(entry.image, h.imageSha256, problems);
  if (bytes === undefined) return { id: entry.id, pngs: [], problems, warnings };
  let image;
  try {
    image = await decodeGrey(bytes, entry.image.format, params.maxInputPixels);
  } catch (err) {
    if (!(err instanceof ImageProblem)) throw err;
    problems.push(`${entry.image.relPath}: ${err.message}`);
    return { id: entry.id, pngs: [], problems, warnings };
  }
  const { width, height } = image;
  const note = colourNote(image);
  if (note !== undefined) warnings.push(`${entry.image.relPath}: ${note}`);
  for (const [doctor, parsed, relPath] of [
    ['senior', senior, entry.senior.relPath],
    ['junior', junior, entry.junior.relPath],
  ] as const) {
    parsed.points.forEach(([x, y], i) => {
      if (x >= width || y >= height) {
        problems.push(`${relPath}: ${doctor} landmark ${i + 1} (x=${x}, y=${y}) is outside the ${width}x${height} image ${entry.image.relPath}`);
      }
    });
  }
  if (problems.length > 0) return { id: entry.id, pngs: [], problems, warnings };
  const disagreement = maxDoctorDisagreementMm(senior.points, junior.points, params.pixelSpacingMm);
  if (disagreement > params.maxDoctorDisagreementMm) {
    problems.push(
      `${entry.senior.relPath}: senior and junior disagree by ${disagreement.toFixed(1)} mm (limit ${params.maxDoctorDisagreementMm} mm); wrong or misordered annotation file?`,
    );
    return { id: entry.id, pngs: [], problems, warnings };
  }
  if (validateOnly) return { id: entry.id, pngs: [], problems, warnings };

  const gt = groundTruth(senior.points, junior.points);
  const { workingYx, pngs } = await workingFiles(entry.id, image, gt.gtTruncXyPx, params.sizes);
  const labels: ImageLabels = {
    split: entry.split,
    widthPx: width,
    heightPx: height,
    sourceFormat: entry.image.format,
    sourceSha256: h.imageSha256,
    spacingMm: params.pixelSpacingMm,
    spacingSource: params.spacingSource,
    labelled: true,
    seniorXyPx: senior.points,
    juniorXyPx: junior.points,
    gtTruncXyPx: gt.gtTruncXyPx,
    gtMeanXyPx: gt.gtMeanXyPx,
    workingYx,
  };
  return { id: entry.id, labels, pngs, problems, warnings };
}

function countSplits(entries: readonly LayoutEntry[]): IngestCounts {
  const counts: IngestCounts = { images: entries.length, train: 0, test1: 0, test2: 0 };
  for (const e of entries) counts[e.split]++;
  return counts;
}

function buildSplit(entries: readonly LayoutEntry[]): DatasetSplit {
  const split: DatasetSplit = { train: [], test1: [], test2: [] };
  for (const e of entries) split[e.split].push(e.id);
  return split;
}

function buildDescription(args: {
  datasetVersion: string;
  params: NormalisedParams;
  counts: IngestCounts;
  split: DatasetSplit;
  labels: DatasetLabels;
  sizesSeen: OriginalSize[];
  sourceFiles: number;
  warnings: string[];
}): DatasetDescription {
  const { params, labels, sizesSeen } = args;
  const { formatKeys, ...images } = describeImages(labels, sizesSeen, params.sizes, params.pixelSpacingMm);
  const splits = (Object.keys(SPLIT_FOLDERS) as Split[]).filter((s) => args.split[s].length > 0);
  return {
    format: INGEST_FORMAT_VERSION,
    datasetVersion: args.datasetVersion,
    kind: 'isbi2015',
    name: 'ISBI 2015 cephalometric landmarks',
    landmarkNames: [...ISBI_LANDMARK_NAMES],
    landmarkCount: LANDMARK_COUNT,
    pixelSpacingMm: params.pixelSpacingMm,
    spacing: params.spacingSource,
    sizes: params.sizes,
    counts: { ...args.counts, labelled: args.labels.ids.length },
    splits,
    testIdsCovered: { test1: args.split.test1, test2: args.split.test2 },
    ...images,
    groundTruth: {
      paper: 'gtTruncXyPx = int(0.5*(junior+senior)) per coordinate, original px; workingYx[S] = [int(y*S/H), int(x*S/W)] of it',
      clean: 'gtMeanXyPx = 0.5*(junior+senior), original px, untruncated',
    },
    resize: RESIZE_NOTE,
    workingImage: WORKING_IMAGE_NOTE,
    source: {
      layout: 'ISBI 2015 official: RawImage/{TrainingData,Test1Data[,Test2Data]}/<id>.<ext>, AnnotationsByMD/400_{senior,junior}/<id>.txt',
      description:
        formatKeys.length === 1 && formatKeys[0] === 'jpeg'
          ? 'JPEG images (lossy re-encodes, not the official BMPs: results shift slightly, docs/method.md#trap-jpeg)'
          : formatKeys.length === 1 && formatKeys[0] === 'bmp'
            ? 'official BMP images'
            : `image formats: ${formatKeys.join(', ')}`,
      files: args.sourceFiles,
    },
    warnings: args.warnings,
  };
}
