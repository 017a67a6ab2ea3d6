/**
 * Reads a site folder into ids, annotations, spacings and one problem list:
 *
 *   images/**            PNG, JPEG, BMP, TIFF (8/16-bit), DICOM (.dcm, .dicom or no extension
 *                        with the "DICM" magic); image id = file name without extension
 *   landmarks/**         <id>.csv | <id>.mrk.json | <id>.txt for SOME images (./landmark-files)
 *   spacing.csv          optional, header `id,mm`
 *
 * Images are probed (headers only: size, DICOM tags), not decoded. Pixel spacing per image, first
 * found: spacing.csv (an explicit per-image statement; a differing DICOM value is noted as a
 * warning), the DICOM header (PixelSpacing, else ImagerPixelSpacing), `spacingMm` ("fixed");
 * otherwise null (unknown). There is no default: a DICOM without any spacing, or a Slicer file on
 * an image without one, is a problem.
 *
 * Landmark names come from the template's annotation (`templateId`); every other annotation must
 * carry the same names (any order; they are returned in the template's order). Without a
 * template the first annotated id is the reference for that check and `landmarkNames` is null.
 *
 * Safety as in ../layout: every path is canonicalised and must stay inside the site folder,
 * hidden files are ignored, ids must be key-safe. Problems are collected, never thrown (except a
 * missing folder or invalid options).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InvalidConfigError } from '../../errors';
import { mapLimit } from '../concurrency';
import { compareIds } from '../layout';
import { canonicalInside, canonicalRoot, isSafeId, unsafeIdProblem } from '../safe-path';
import { MAX_IMAGES, MAX_INPUT_PIXELS } from '../types';
import { parseDecimal, readCsvTable } from './csv';
import { probeSiteImage } from './image';
import { imageFileKind } from './image-file';
import { landmarkFileKind, matchNames, outsideImage, parseLandmarkFile, type LandmarkFileFormat } from './landmark-files';
import { FileProblem, type NamedPoint, type SiteImageFormat, type SiteProblem, type Spacing } from './types';

export const IMAGES_DIR = 'images';
export const LANDMARKS_DIR = 'landmarks';
export const SPACING_CSV = 'spacing.csv';
/** Largest plausible pixel spacing; beyond it the value is a unit mistake. */
export const MAX_SPACING_MM = 10;

export interface ScanOptions {
  /** Site-wide pixel spacing (`--spacing MM`), used where nothing more specific is known. */
  spacingMm?: number;
  /** Image id whose annotation defines the landmark set. */
  templateId?: string;
  /** Images only: `landmarks/` is neither required nor read (a site before its template is labelled). */
  imagesOnly?: boolean;
  maxImages?: number;
  maxInputPixels?: number;
}

export interface SiteImage {
  id: string;
  /** Canonical absolute path. */
  path: string;
  /** Relative to the site folder, '/'-separated. */
  relPath: string;
  format: SiteImageFormat;
  width: number;
  height: number;
}

export interface SiteAnnotation {
  path: string;
  relPath: string;
  format: LandmarkFileFormat;
  /** Pixels of the original image; in the template's order when a template is given. */
  landmarks: NamedPoint[];
}

export interface SiteScan {
  root: string;
  /** Images whose header could be read, ordered by id. */
  images: SiteImage[];
  annotations: Map<string, SiteAnnotation>;
  /** Per image id; null when unknown. */
  spacing: Map<string, Spacing | null>;
  /** The template's landmark names, or null without a template. */
  landmarkNames: string[] | null;
  /** Any problem makes the site unusable. */
  problems: SiteProblem[];
  /** Ignored files and other notes that do not block. */
  warnings: SiteProblem[];
}

interface Found {
  name: string;
  path: string;
  relPath: string;
}

export async function scanSiteFolder(dir: string, opts: ScanOptions = {}): Promise<SiteScan> {
  if (opts.spacingMm !== undefined && !validSpacing(opts.spacingMm)) throw new InvalidConfigError(`spacing: ${opts.spacingMm} mm is not in (0, ${MAX_SPACING_MM}]`);
  if (opts.templateId !== undefined && !isSafeId(opts.templateId)) throw new InvalidConfigError(`template: ${JSON.stringify(opts.templateId)} is not an image id`);
  const maxImages = opts.maxImages ?? MAX_IMAGES;
  const maxPixels = opts.maxInputPixels ?? MAX_INPUT_PIXELS;
  const root = await canonicalRoot(dir, 'site folder');
  const problems: SiteProblem[] = [];
  const warnings: SiteProblem[] = [];
  const problem = (file: string, text: string): void => void problems.push({ file, problem: text });

  /** Every regular file below `relDir` (symlinks followed inside the root, each folder once). */
  async function walk(relDir: string): Promise<Found[] | undefined> {
    const top = await canonicalInside(root, path.join(root, relDir));
    if (!top.ok) {
      problem(relDir, top.reason === 'dangling symlink or missing file' ? 'required folder missing' : top.reason);
      return undefined;
    }
    const found: Found[] = [];
    const visited = new Set<string>();
    const queue: Array<{ real: string; rel: string }> = [{ real: top.path, rel: relDir }];
    while (queue.length > 0) {
      const { real, rel } = queue.shift() as { real: string; rel: string };
      if (visited.has(real)) continue;
      visited.add(real);
      if (!(await stat(real)).isDirectory()) {
        problem(rel, 'not a directory');
        continue;
      }
      for (const name of (await readdir(real)).sort()) {
        const relPath = `${rel}/${name}`;
        if (name.startsWith('.')) {
          warnings.push({ file: relPath, problem: 'hidden file ignored' });
          continue;
        }
        const resolved = await canonicalInside(root, path.join(real, name));
        if (!resolved.ok) {
          problem(relPath, resolved.reason);
          continue;
        }
        const st = await stat(resolved.path);
        if (st.isDirectory()) queue.push({ real: resolved.path, rel: relPath });
        else if (st.isFile()) found.push({ name, path: resolved.path, relPath });
        else problem(relPath, 'not a regular file');
        if (found.length > 4 * maxImages) {
          problem(relDir, `more than ${4 * maxImages} files; stopped listing`);
          return found;
        }
      }
    }
    return found;
  }

  // Images.
  const byId = new Map<string, { relPath: string; path: string; format: SiteImageFormat }>();
  for (const f of (await walk(IMAGES_DIR)) ?? []) {
    const kind = await imageFileKind(f.name, f.path);
    if (kind === undefined) {
      warnings.push({ file: f.relPath, problem: 'not a PNG, JPEG, BMP, TIFF or DICOM image, ignored' });
      continue;
    }
    const { id, format } = kind;
    if (!isSafeId(id)) {
      problem(f.relPath, unsafeIdProblem(id));
      continue;
    }
    const prior = byId.get(id);
    if (prior !== undefined) {
      problem(f.relPath, `duplicate image id ${id}: ${prior.relPath} and ${f.relPath}`);
      continue;
    }
    byId.set(id, { relPath: f.relPath, path: f.path, format });
  }
  if (byId.size > maxImages) problem(IMAGES_DIR, `${byId.size} images exceed the limit of ${maxImages}`);
  if (byId.size === 0) problem(IMAGES_DIR, 'no images found');

  // Landmark files.
  const labelFiles = new Map<string, Found & { format: LandmarkFileFormat }>();
  for (const f of (opts.imagesOnly ? [] : await walk(LANDMARKS_DIR)) ?? []) {
    const kind = landmarkFileKind(f.name);
    if (kind === undefined) {
      warnings.push({ file: f.relPath, problem: 'not a .csv, .mrk.json or .txt landmark file, ignored' });
      continue;
    }
    if (!isSafeId(kind.id)) {
      problem(f.relPath, unsafeIdProblem(kind.id));
      continue;
    }
    const prior = labelFiles.get(kind.id);
    if (prior !== undefined) {
      problem(f.relPath, `two landmark files for image ${kind.id}: ${prior.relPath} and ${f.relPath}`);
      continue;
    }
    if (!byId.has(kind.id)) {
      problem(f.relPath, `landmark file without image (no ${IMAGES_DIR}/**/${kind.id}.*)`);
      continue;
    }
    labelFiles.set(kind.id, { ...f, format: kind.format });
  }

  const csvSpacing = await readSpacingCsv(root, new Set(byId.keys()), problem);

  // Image headers and spacing.
  const ids = [...byId.keys()].sort(compareIds);
  const spacing = new Map<string, Spacing | null>();
  const probed = await mapLimit(ids, 2, async (id): Promise<SiteImage | undefined> => {
    const img = byId.get(id) as { relPath: string; path: string; format: SiteImageFormat };
    let probe;
    try {
      probe = await probeSiteImage(await readFile(img.path), img.format, img.relPath, maxPixels);
    } catch (err) {
      if (err instanceof FileProblem) problem(err.file, err.problem);
      else if ((err as NodeJS.ErrnoException).code !== undefined) problem(img.relPath, `cannot read (${(err as NodeJS.ErrnoException).code})`);
      else throw err;
      return undefined;
    }
    const fromCsv = csvSpacing.get(id);
    if (fromCsv !== undefined && probe.spacing !== undefined && Math.abs(fromCsv - probe.spacing.mm) > 1e-9) {
      warnings.push({ file: SPACING_CSV, problem: `${id}: ${fromCsv} mm overrides the DICOM header's ${probe.spacing.mm} mm (${probe.spacing.source})` });
    }
    const chosen: Spacing | null =
      fromCsv !== undefined
        ? { mm: fromCsv, source: 'spacing.csv' }
        : (probe.spacing ?? (opts.spacingMm !== undefined ? { mm: opts.spacingMm, source: 'fixed' } : null));
    if (chosen === null && img.format === 'dicom') {
      problem(img.relPath, `no pixel spacing: neither (0028,0030) PixelSpacing nor (0018,1164) ImagerPixelSpacing, and no ${SPACING_CSV} entry or --spacing`);
    }
    spacing.set(id, chosen);
    return { id, path: img.path, relPath: img.relPath, format: img.format, width: probe.width, height: probe.height };
  });
  const images = probed.filter((i): i is SiteImage => i !== undefined);
  const imageById = new Map(images.map((i) => [i.id, i]));

  // Annotations: the template (or the first annotated id) first, so its names are known.
  const labelIds = [...labelFiles.keys()].sort(compareIds);
  if (opts.templateId !== undefined) {
    if (!byId.has(opts.templateId)) problem(IMAGES_DIR, `template image ${opts.templateId} not found`);
    else if (!labelFiles.has(opts.templateId)) problem(LANDMARKS_DIR, `template image ${opts.templateId} has no landmark file (${LANDMARKS_DIR}/${opts.templateId}.csv, .mrk.json or .txt)`);
  }
  const referenceId = opts.templateId !== undefined && labelFiles.has(opts.templateId) ? opts.templateId : labelIds[0];
  const ordered = referenceId === undefined ? labelIds : [referenceId, ...labelIds.filter((id) => id !== referenceId)];
  const annotations = new Map<string, SiteAnnotation>();
  let reference: { names: string[]; relPath: string } | undefined;
  let templateFailed = false;
  for (const id of ordered) {
    const f = labelFiles.get(id) as Found & { format: LandmarkFileFormat };
    const image = imageById.get(id);
    if (image === undefined) continue; // its image already has a problem
    const mm = spacing.get(id)?.mm;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(f.path);
    } catch (err) {
      problem(f.relPath, `cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      continue;
    }
    const parsed = parseLandmarkFile(bytes, f.format, { ...(mm !== undefined ? { spacingMm: mm } : {}), ...(reference !== undefined ? { names: reference.names } : {}) });
    for (const p of parsed.problems) problem(f.relPath, p);
    if (parsed.problems.length > 0) {
      // A broken template leaves no names to check the others against (its problem is reported).
      if (id === opts.templateId) templateFailed = true;
      continue;
    }
    let landmarks = parsed.landmarks;
    if (reference === undefined) {
      if (!templateFailed) reference = { names: landmarks.map((p) => p.name), relPath: f.relPath };
    } else {
      const matched = matchNames(landmarks, reference.names, reference.relPath);
      if ('problem' in matched) {
        problem(f.relPath, matched.problem);
        continue;
      }
      landmarks = matched.landmarks;
    }
    const outside = outsideImage(landmarks, image.width, image.height, image.relPath);
    for (const p of outside) problem(f.relPath, p);
    if (outside.length === 0) annotations.set(id, { path: f.path, relPath: f.relPath, format: f.format, landmarks });
  }
  if (!opts.imagesOnly && labelFiles.size === 0 && problems.every((p) => p.file !== LANDMARKS_DIR)) problem(LANDMARKS_DIR, 'no landmark files: at least the template needs one');

  return {
    root,
    images,
    annotations,
    spacing,
    landmarkNames: opts.templateId !== undefined && referenceId === opts.templateId && reference !== undefined ? reference.names : null,
    problems,
    warnings,
  };
}

function validSpacing(mm: number): boolean {
  return Number.isFinite(mm) && mm > 0 && mm <= MAX_SPACING_MM;
}

/** spacing.csv at the site root (optional): id -> mm. */
async function readSpacingCsv(root: string, imageIds: ReadonlySet<string>, problem: (file: string, text: string) => void): Promise<Map<string, number>> {
  const canon = await canonicalInside(root, path.join(root, SPACING_CSV));
  if (!canon.ok) {
    if (canon.reason !== 'dangling symlink or missing file') problem(SPACING_CSV, canon.reason);
    return new Map();
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(canon.path));
  } catch (err) {
    problem(SPACING_CSV, (err as NodeJS.ErrnoException).code !== undefined ? `cannot read (${(err as NodeJS.ErrnoException).code})` : 'not UTF-8 text');
    return new Map();
  }
  return parseSpacingCsv(text, imageIds, (p) => problem(SPACING_CSV, p));
}

/**
 * An `id,mm` table (a site's spacing.csv, `predict --spacing-csv`): id -> mm. Every id must be one
 * of `imageIds`, once, with a spacing in (0, MAX_SPACING_MM] mm; each problem names its line.
 */
export function parseSpacingCsv(text: string, imageIds: ReadonlySet<string>, problem: (text: string) => void): Map<string, number> {
  const out = new Map<string, number>();
  const { rows, problems } = readCsvTable(text, ['id', 'mm']);
  for (const p of problems) problem(p);
  for (const { line, cells } of rows) {
    const [id, mmText] = cells as [string, string];
    const mm = parseDecimal(mmText);
    if (mm === undefined || !validSpacing(mm)) problem(`line ${line}: spacing ${JSON.stringify(mmText)} for ${id} is not a number in (0, ${MAX_SPACING_MM}] mm`);
    else if (!imageIds.has(id)) problem(`line ${line}: no image with id ${JSON.stringify(id)}`);
    else if (out.has(id)) problem(`line ${line}: second entry for ${id}`);
    else out.set(id, mm);
  }
  return out;
}
