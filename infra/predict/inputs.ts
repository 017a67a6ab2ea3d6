/**
 * The images of a prediction request, checked completely before anything is stored:
 * - local paths: image files, or folders searched recursively (hidden entries skipped) for PNG,
 *   JPEG, BMP, TIFF and DICOM files; each is decoded with the site readers' rules (magic bytes,
 *   pixel cap, grey conversion, DICOM spacing), so an unreadable file is named before any upload;
 *   ids are file names without extension and must be unique;
 * - a published dataset version: its working images at the model's size, when its landmark set
 *   is the model's.
 * A model with the refinement stage also gets every image at the refinement input size, resized
 * the same way (so a dataset image's pixels match the dataset version's at that size).
 * Every problem is collected and reported at once (UserError: exit code 2).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { PredictRequest } from '../../contracts/documents';
import { UserError } from '../errors';
import { isSafeId, unsafeIdProblem } from '../dataset/safe-path';
import { imageFileKind, imageKindOf } from '../dataset/site/image-file';
import { parseSpacingCsv } from '../dataset/site/scan';
import { DATASET_FILES, datasetPrefix } from '../dataset/published';
import { DatasetReader } from '../dataset/reader';
import { decodeSiteImage, type DecodedSiteImage } from '../dataset/site/image';
import { checkFormat, sniffSiteFormat } from '../dataset/site/raster';
import { FileProblem, type SiteImageFormat } from '../dataset/site/types';
import { makeWorkingPng } from '../dataset/working-image';
import { readManifest } from '../storage/manifest';
import { NotFoundError, type ObjectStore } from '../storage/object-store';

export type RequestImage = PredictRequest['images'][number];

export interface LocalImage {
  id: string;
  file: string;
  format: SiteImageFormat;
  decoded: DecodedSiteImage;
}

function problemsError(what: string, problems: readonly string[]): UserError {
  return new UserError(`${what}:\n  - ${problems.join('\n  - ')}`, 'InvalidPredictInput');
}

async function imageFilesIn(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('.')) continue;
    const full = path.join(dir, name);
    const st = await stat(full);
    if (st.isDirectory()) out.push(...(await imageFilesIn(full)));
    else if (st.isFile() && (await imageFileKind(name, full)) !== undefined) out.push(full);
  }
  return out;
}

/** Lists the image files named by `paths` (files as given, folders searched). */
export async function collectImageFiles(paths: readonly string[]): Promise<string[]> {
  if (paths.length === 0) throw new UserError('predict: no images given (a folder, image files, or --dataset-version)', 'InvalidPredictInput');
  const files: string[] = [];
  const problems: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch {
      problems.push(`${p}: no such file or folder`);
      continue;
    }
    if (st.isDirectory()) {
      const found = await imageFilesIn(p);
      if (found.length === 0) problems.push(`${p}: no images in this folder (PNG, JPEG, BMP, TIFF or DICOM)`);
      files.push(...found);
    } else files.push(p);
  }
  if (problems.length > 0) throw problemsError('predict: bad input', problems);
  return files;
}

/**
 * The pixel spacing of local images, first found (as a site's): the `id,mm` table of
 * `--spacing-csv`, the DICOM header, `--spacing`; else unknown (millimetre columns left empty).
 */
export interface ImageSpacing {
  table?: ReadonlyMap<string, number>;
  fixedMm?: number;
}

/** `--spacing-csv FILE` read against the request's image ids; every problem names the file and line. */
export async function readSpacingTable(file: string, images: readonly LocalImage[]): Promise<Map<string, number>> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw problemsError('predict: --spacing-csv', [`${file}: ${code !== undefined ? `cannot read (${code})` : 'not UTF-8 text'}`]);
  }
  const problems: string[] = [];
  const table = parseSpacingCsv(text, new Set(images.map((i) => i.id)), (p) => problems.push(`${file}: ${p}`));
  if (problems.length > 0) throw problemsError('predict: --spacing-csv', problems);
  return table;
}

function sniffedKind(file: string, bytes: Uint8Array): { id: string; format: SiteImageFormat } | undefined {
  const format = sniffSiteFormat(bytes);
  return format === null ? undefined : { id: path.basename(file, path.extname(file)), format };
}

/** Decodes every file (all problems reported together, each naming its file). */
export async function readLocalImages(files: readonly string[]): Promise<LocalImage[]> {
  const problems: string[] = [];
  const images: LocalImage[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    try {
      const bytes = new Uint8Array(await readFile(file));
      // A file named on the command line is an image by its content whatever its name ("scan.img").
      const kind = imageKindOf(path.basename(file), bytes) ?? sniffedKind(file, bytes);
      if (kind === undefined) throw new FileProblem(file, 'not a PNG, JPEG, BMP, TIFF or DICOM image');
      const { id, format } = kind;
      checkFormat(bytes, format, file);
      const decoded = await decodeSiteImage(bytes, format, file);
      if (!isSafeId(id)) throw new FileProblem(file, unsafeIdProblem(id));
      const prior = seen.get(id);
      if (prior !== undefined) throw new FileProblem(file, `duplicate image id ${id} (also ${prior})`);
      seen.set(id, file);
      images.push({ id, file, format, decoded });
    } catch (err) {
      if (err instanceof FileProblem) problems.push(err.file === file ? `${file}: ${err.problem}` : `${file}: ${err.message}`);
      else if ((err as NodeJS.ErrnoException).code !== undefined) problems.push(`${file}: cannot read (${(err as NodeJS.ErrnoException).code})`);
      else throw err;
    }
  }
  if (problems.length > 0) throw problemsError('predict: bad images (unreadable, unsafe or duplicate ids)', problems);
  return images;
}

/**
 * The request entry of a local image, with its working PNG (to be stored at `working.key`) and,
 * given `fineSize`, its PNG at the refinement input size (to be stored at `fine.key`).
 */
export async function workingImage(
  img: LocalImage, size: number, spacing: ImageSpacing, fineSize?: number,
): Promise<{ png: Uint8Array; finePng?: Uint8Array; entry: Omit<RequestImage, 'working' | 'fine'> }> {
  const png = await makeWorkingPng(img.decoded, size);
  const finePng = fineSize !== undefined ? await makeWorkingPng(img.decoded, fineSize) : undefined;
  const mm = spacing.table?.get(img.id) ?? img.decoded.spacing?.mm ?? spacing.fixedMm ?? null;
  return { png, ...(finePng ? { finePng } : {}), entry: { id: img.id, widthPx: img.decoded.width, heightPx: img.decoded.height, spacingMm: mm } };
}

/** The request images of a published dataset version (its working images at `size`, and at `fineSize` when given). */
export async function datasetImages(
  store: ObjectStore, version: string, size: number, landmarkNames: readonly string[], fineSize?: number,
): Promise<RequestImage[]> {
  const prefix = datasetPrefix(version);
  let manifest;
  try {
    manifest = await readManifest(store, prefix, { verify: 'none' });
  } catch (err) {
    if (err instanceof NotFoundError) throw new UserError(`--dataset-version ${version}: no published dataset version`, 'InvalidPredictInput');
    throw err;
  }
  const labels = await new DatasetReader(store, version).labels();
  if (labels.landmarkNames.join('\u0000') !== landmarkNames.join('\u0000')) {
    throw new UserError(
      `dataset version ${version} (${prefix}/${DATASET_FILES.labels}): its ${labels.landmarkNames.length} landmarks (${labels.landmarkNames.join(', ')}) are not the model's ${landmarkNames.length} (${landmarkNames.join(', ')})`,
      'InvalidPredictInput',
    );
  }
  const files = new Map(manifest.files.map((f) => [f.key, f]));
  const missing: string[] = [];
  const refAt = (s: number, id: string) => {
    const rel = DATASET_FILES.image(s, id);
    const f = files.get(rel);
    if (!f) missing.push(`${prefix}/${rel}`);
    return f && { key: `${prefix}/${rel}`, sha256: f.sha256, size: f.size };
  };
  const images = labels.ids.flatMap((id): RequestImage[] => {
    const img = labels.images[id]!;
    const working = refAt(size, id);
    const fine = fineSize !== undefined ? refAt(fineSize, id) : undefined;
    if (!working || (fineSize !== undefined && !fine)) return [];
    return [{ id, widthPx: img.widthPx, heightPx: img.heightPx, spacingMm: img.spacingMm, working, ...(fine ? { fine } : {}) }];
  });
  const sizes = fineSize !== undefined ? `${size} or ${fineSize} px working images (the model's input and refinement sizes)` : `${size} px working images (the model's input size)`;
  if (missing.length > 0) throw problemsError(`dataset version ${version}: no ${sizes}`, missing.slice(0, 10));
  return images;
}
