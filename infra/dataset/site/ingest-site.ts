/**
 * Site folder → validated, content-addressed dataset version (the same published form as the
 * ISBI importer, ../ingest). The folder (./scan): images anywhere under `images/`, annotations
 * for some of them under `landmarks/`, optional `spacing.csv`; the template's annotation defines
 * the K named landmarks.
 *
 * 1. scanSiteFolder reads headers, spacings and every annotation (names checked against the
 *    template's, points inside the image).
 * 2. Every source file (images, annotation files, spacing.csv) is hashed; with the template,
 *    `--spacing`, the sizes and the format version it gives the version id. A published version
 *    is returned as reused, nothing written; so is one at the requested plus `reusableSizes`,
 *    which is preferred (it is the version `cc2d site add` recorded).
 * 3. Every image is decoded; ALL problems are collected and one DatasetInvalidError lists them
 *    ("file: problem"); nothing is written then.
 * 4. Splits: `train` = the unlabelled images + the template, `eval` = the other annotated images
 *    (held out of training). Without a template (a site that has not labelled its one image yet,
 *    see `cc2d site suggest-template`) `landmarks/` is not read: every image is an unlabelled
 *    training image and the version has no landmarks. Labelled images get gtMeanXyPx = the annotated point, gtTruncXyPx =
 *    its floor, workingYx[S] from gtTruncXyPx (as ISBI).
 */
import path from 'node:path';
import type { SpacingRule } from '../../../contracts/documents';
import { DatasetInvalidError, InvalidConfigError } from '../../errors';
import type { ObjectStore } from '../../storage/object-store';
import { sha256Hex } from '../../storage/hash';
import { isPublished } from '../../storage/manifest';
import { mapLimit } from '../concurrency';
import { colourNote, type GreyConversion } from '../grey';
import { datasetPrefix, type DatasetDescription, type DatasetSplit, type ImageLabels } from '../published';
import { buildLabels, checkKeySafety, describeImages, distinctSizes, publishVersion, readHashed, readSource, RESIZE_NOTE, sizeProblems, sizesNote, sortedSizes, WORKING_IMAGE_NOTE, workingFiles, type ProcessedImage, type SourceFile } from '../publish-version';
import { INGEST_FORMAT_VERSION, MAX_INPUT_PIXELS, type IngestProgress, type PointXY } from '../types';
import { computeVersionId, type SourceFileHash } from '../version';
import { decodeSiteImage } from './image';
import { SPACING_CSV, scanSiteFolder, type SiteAnnotation, type SiteImage, type SiteScan } from './scan';
import { FileProblem, type Spacing } from './types';

export const SITE_TRAIN_SPLIT = 'train';
export const SITE_EVAL_SPLIT = 'eval';
const DEFAULT_CONCURRENCY = 2;

export interface SiteIngestOptions {
  /** The site folder. */
  dir: string;
  /** The annotated image whose landmarks define the set; absent: an unlabelled version (images only). */
  templateId?: string;
  /** `--spacing MM`: for images without a DICOM tag or spacing.csv entry. */
  spacingMm?: number;
  sizes: readonly number[];
  /**
   * Sizes a version of the same folder may already be published at (`cc2d site add` publishes
   * every profile's): when that wider version exists it is reused instead of publishing another.
   */
  reusableSizes?: readonly number[];
  /** Validated as a key-safe name; not part of the (content-addressed) version. */
  site?: string;
  concurrency?: number;
  maxImages?: number;
  maxInputPixels?: number;
  onProgress?: (progress: IngestProgress) => void;
  signal?: AbortSignal;
}

export interface SiteIngestCounts {
  images: number;
  labelled: number;
  train: number;
  eval: number;
}

export interface SiteIngestResult {
  datasetVersion: string;
  prefix: string;
  reused: boolean;
  counts: SiteIngestCounts;
  sizes: number[];
  templateId: string | undefined;
  landmarkNames: string[];
  /** How spacing is known over the whole folder ("unknown": metrics in pixels for some images). */
  spacing: SpacingRule;
  /** The one spacing shared by every image, else null. */
  pixelSpacingMm: number | null;
  warnings: string[];
  objectsWritten: number;
  durationMs: number;
}

interface Hashed {
  image: SiteImage;
  sha256: string;
}

export async function ingestSite(store: ObjectStore, options: SiteIngestOptions): Promise<SiteIngestResult> {
  const started = Date.now();
  const errors = sizeProblems(options.sizes);
  if (typeof options.dir !== 'string' || options.dir.trim() === '') errors.push('dir: required');
  if (options.templateId !== undefined && (typeof options.templateId !== 'string' || options.templateId === '')) errors.push('templateId: required (the annotated image that defines the landmarks)');
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16) errors.push(`concurrency: ${concurrency} is not an integer in [1, 16]`);
  if (errors.length > 0) throw new InvalidConfigError(`site ingest: ${errors.join('; ')}`);
  checkKeySafety(options.dir, 'dir', options.site);
  const sizes = sortedSizes(options.sizes);
  const maxPixels = options.maxInputPixels ?? MAX_INPUT_PIXELS;
  const report = options.onProgress ?? (() => undefined);

  report({ phase: 'scan', done: 0, total: 1 });
  const scan = await scanSiteFolder(options.dir, {
    ...(options.templateId !== undefined ? { templateId: options.templateId } : { imagesOnly: true }),
    ...(options.spacingMm !== undefined ? { spacingMm: options.spacingMm } : {}),
    ...(options.maxImages !== undefined ? { maxImages: options.maxImages } : {}),
    maxInputPixels: maxPixels,
  });
  const problems = scan.problems.map((p) => `${p.file}: ${p.problem}`);
  const warnings = scan.warnings.map((p) => `${p.file}: ${p.problem}`);
  report({ phase: 'scan', done: 1, total: 1 });

  // Hash every source file: images, annotation files, spacing.csv.
  const total = scan.images.length;
  let hashedCount = 0;
  const sourceHashes: SourceFileHash[] = [];
  const hashedImages = await mapLimit(scan.images, 4, async (image): Promise<Hashed | undefined> => {
    options.signal?.throwIfAborted();
    const bytes = await readSource(image, problems);
    report({ phase: 'hash', done: ++hashedCount, total });
    if (bytes === undefined) return undefined;
    const sha256 = sha256Hex(bytes);
    sourceHashes.push({ relPath: image.relPath, sha256 });
    return { image, sha256 };
  });
  for (const file of [...scan.annotations.values(), ...(await spacingCsvFile(scan))]) {
    const bytes = await readSource(file, problems);
    if (bytes !== undefined) sourceHashes.push({ relPath: file.relPath, sha256: sha256Hex(bytes) });
  }
  const site = { templateId: options.templateId ?? null, spacingMm: options.spacingMm ?? null };
  const datasetVersion = computeVersionId(sourceHashes, { sizes, site });
  const prefix = datasetPrefix(datasetVersion);
  const split = buildSplit(scan, options.templateId);
  const counts: SiteIngestCounts = { images: scan.images.length, labelled: scan.annotations.size, train: split.train?.length ?? 0, eval: split.eval?.length ?? 0 };
  const spacing = spacingSummary(scan);
  const base = { datasetVersion, prefix, counts, sizes, templateId: options.templateId, landmarkNames: scan.landmarkNames ?? [], ...spacing };

  if (problems.length === 0) {
    const wider = sortedSizes([...sizes, ...(options.reusableSizes ?? [])]);
    // The version at every size first: the one `site add` published and recorded for the site,
    // also when another run published the same folder at its own sizes only.
    for (const candidate of wider.length > sizes.length ? [wider, sizes] : [sizes]) {
      const version = candidate === sizes ? datasetVersion : computeVersionId(sourceHashes, { sizes: candidate, site });
      if (!(await isPublished(store, datasetPrefix(version)))) continue;
      report({ phase: 'done', done: total, total });
      return { ...base, datasetVersion: version, prefix: datasetPrefix(version), sizes: candidate, reused: true, warnings, objectsWritten: 0, durationMs: Date.now() - started };
    }
  }

  let processedCount = 0;
  // Once any problem is known nothing will be published: keep validating, skip resizing.
  let anyProblem = problems.length > 0;
  const processed = await mapLimit(
    hashedImages.filter((h): h is Hashed => h !== undefined),
    concurrency,
    async (h): Promise<ProcessedImage> => {
      options.signal?.throwIfAborted();
      const result = await processImage(h, scan, options.templateId, sizes, maxPixels, anyProblem);
      if (result.problems.length > 0) anyProblem = true;
      report({ phase: 'process', done: ++processedCount, total });
      return result;
    },
  );
  for (const p of processed) problems.push(...p.problems);
  if (options.templateId !== undefined && scan.landmarkNames === null && problems.length === 0) problems.push(`landmarks: template ${options.templateId} defines no landmark names`);
  if (problems.length > 0) throw new DatasetInvalidError(problems);

  const labels = buildLabels(processed, scan.landmarkNames ?? []);
  const sizesSeen = distinctSizes(labels);
  // Only notes that follow from the hashed content go into dataset.json (equal ids, equal bytes).
  const contentWarnings = [...processed.flatMap((p) => p.warnings), ...sizesNote(sizesSeen)];
  warnings.push(...contentWarnings);
  const { formatKeys, ...images } = describeImages(labels, sizesSeen, sizes, spacing.pixelSpacingMm);
  const description: DatasetDescription = {
    format: INGEST_FORMAT_VERSION,
    datasetVersion,
    kind: 'site',
    name: 'site folder',
    landmarkNames: labels.landmarkNames,
    landmarkCount: labels.landmarkCount,
    pixelSpacingMm: spacing.pixelSpacingMm,
    spacing: spacing.spacing,
    sizes,
    counts: { ...counts },
    splits: Object.keys(split).filter((s) => (split[s] as string[]).length > 0),
    testIdsCovered: { [SITE_EVAL_SPLIT]: split[SITE_EVAL_SPLIT] as string[] },
    ...(options.templateId !== undefined ? { templateId: options.templateId } : {}),
    ...images,
    groundTruth: {
      paper: 'gtTruncXyPx = floor(annotated point), original px; workingYx[S] = [int(y*S/H), int(x*S/W)] of it',
      clean: 'gtMeanXyPx = the annotated point, original px',
    },
    resize: RESIZE_NOTE,
    workingImage: WORKING_IMAGE_NOTE,
    source: {
      layout: 'site folder: images/**/<id>.<png|jpg|bmp|tif|dcm>, landmarks/**/<id>.<csv|mrk.json|txt> for some images, optional spacing.csv (id,mm)',
      description: `image formats: ${formatKeys.join(', ')}; ${options.templateId !== undefined ? `template ${options.templateId}` : 'no template'}; ${labels.landmarkCount} landmarks`,
      files: sourceHashes.length,
    },
    warnings: contentWarnings,
  };
  const { reused, objectsWritten } = await publishVersion(store, { prefix, datasetVersion, sizes, counts: { ...counts } }, { processed, labels, split, description }, { signal: options.signal, report });
  report({ phase: 'done', done: total, total });
  return { ...base, reused, warnings, objectsWritten, durationMs: Date.now() - started };
}

/**
 * The splits a site folder will have, from a header-level scan (no decoding): what a run's
 * preflight checks its template and test splits against. Problems of the folder are thrown
 * (DatasetInvalidError), so a bad folder is refused before any workflow starts.
 */
export async function siteSplits(dir: string, templateId: string, spacingMm?: number): Promise<DatasetSplit> {
  const scan = await scanSiteFolder(dir, { templateId, ...(spacingMm !== undefined ? { spacingMm } : {}) });
  if (scan.problems.length > 0) throw new DatasetInvalidError(scan.problems.map((p) => `${p.file}: ${p.problem}`));
  return buildSplit(scan, templateId);
}

async function spacingCsvFile(scan: SiteScan): Promise<SourceFile[]> {
  const file = { path: path.join(scan.root, SPACING_CSV), relPath: SPACING_CSV };
  const missing: string[] = [];
  return (await readSource(file, missing)) === undefined ? [] : [file];
}

function splitOf(id: string, annotated: boolean, templateId: string | undefined): string {
  return annotated && id !== templateId ? SITE_EVAL_SPLIT : SITE_TRAIN_SPLIT;
}

function buildSplit(scan: SiteScan, templateId: string | undefined): DatasetSplit {
  const split: DatasetSplit = { [SITE_TRAIN_SPLIT]: [], [SITE_EVAL_SPLIT]: [] };
  for (const image of scan.images) (split[splitOf(image.id, scan.annotations.has(image.id), templateId)] as string[]).push(image.id);
  return split;
}

/** The folder's spacing rule and the one shared spacing (null when images differ or some are unknown). */
function spacingSummary(scan: SiteScan): { spacing: SpacingRule; pixelSpacingMm: number | null } {
  const all = scan.images.map((i) => scan.spacing.get(i.id) ?? null);
  if (all.length === 0 || all.some((s) => s === null)) return { spacing: 'unknown', pixelSpacingMm: null };
  const known = all as Spacing[];
  const kinds = new Set(known.map((s) => (s.source.startsWith('dicom') ? 'dicom' : s.source === 'spacing.csv' ? 'csv' : 'fixed')));
  const values = new Set(known.map((s) => s.mm));
  return {
    spacing: kinds.size === 1 ? ([...kinds][0] as SpacingRule) : 'mixed',
    pixelSpacingMm: values.size === 1 ? ([...values][0] as number) : null,
  };
}

async function processImage(h: Hashed, scan: SiteScan, templateId: string | undefined, sizes: readonly number[], maxPixels: number, validateOnly: boolean): Promise<ProcessedImage> {
  const { image: src } = h;
  const problems: string[] = [];
  const warnings: string[] = [];
  const done = (): ProcessedImage => ({ id: src.id, pngs: [], problems, warnings });
  const bytes = await readHashed(src, h.sha256, problems);
  if (bytes === undefined) return done();
  let image;
  try {
    image = await decodeSiteImage(bytes, src.format, src.relPath, maxPixels);
  } catch (err) {
    if (!(err instanceof FileProblem)) throw err;
    problems.push(`${err.file}: ${err.problem}`);
    return done();
  }
  if (image.width !== src.width || image.height !== src.height) {
    problems.push(`${src.relPath}: decoded size ${image.width}x${image.height} differs from the header's ${src.width}x${src.height}`);
    return done();
  }
  // Raster decoders report near-grey colour pixels (converted, noted); DICOM is grey by construction.
  const colour = image as Partial<GreyConversion>;
  const note = colour.colourPixels !== undefined && colour.maxChannelDiff !== undefined ? colourNote({ ...image, colourPixels: colour.colourPixels, maxChannelDiff: colour.maxChannelDiff }) : undefined;
  if (note !== undefined) warnings.push(`${src.relPath}: ${note}`);
  if (validateOnly) return done();

  const annotation: SiteAnnotation | undefined = scan.annotations.get(src.id);
  const meanXy = annotation?.landmarks.map((p): PointXY => [p.x, p.y]);
  const truncXy = meanXy?.map(([x, y]): PointXY => [Math.floor(x), Math.floor(y)]);
  const { workingYx, pngs } = await workingFiles(src.id, image, truncXy, sizes);
  const spacing = scan.spacing.get(src.id) ?? null;
  const labels: ImageLabels = {
    split: splitOf(src.id, annotation !== undefined, templateId),
    widthPx: image.width,
    heightPx: image.height,
    sourceFormat: src.format,
    sourceSha256: h.sha256,
    spacingMm: spacing?.mm ?? null,
    spacingSource: spacing?.source ?? null,
    labelled: annotation !== undefined,
    ...(meanXy !== undefined && truncXy !== undefined ? { gtTruncXyPx: truncXy, gtMeanXyPx: meanXy, workingYx } : {}),
  };
  return { id: src.id, labels, pngs, problems, warnings };
}

