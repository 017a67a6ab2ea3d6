/**
 * Discovers the official ISBI 2015 layout (docs/method.md#data-layouts) by directory listings only (no file
 * contents are read):
 *
 *   RawImage/TrainingData/NNN.{bmp,jpg,jpeg,png}   split train  (required)
 *   RawImage/Test1Data/NNN.*                       split test1  (required)
 *   RawImage/Test2Data/NNN.*                       split test2  (optional)
 *   AnnotationsByMD/400_senior/NNN.txt, AnnotationsByMD/400_junior/NNN.txt
 *
 * Every folder and file is canonicalised (symlinks followed) and must stay inside the canonical
 * root (docs/reliability.md#b1); offenders are reported and never opened. Problems are collected, not
 * thrown, so the caller can put them in one report with the content problems.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { canonicalInside, canonicalRoot, isSafeId, unsafeIdProblem } from './safe-path';
import {
  DOCTOR_FOLDERS,
  IMAGE_EXTENSIONS,
  SPLIT_FOLDERS,
  type Doctor,
  type ImageFormat,
  type Layout,
  type LayoutEntry,
  type Split,
} from './types';

const RAW_IMAGE = 'RawImage';
const ANNOTATIONS = 'AnnotationsByMD';
const REQUIRED_SPLITS: ReadonlySet<Split> = new Set<Split>(['train', 'test1']);

interface FoundFile {
  stem: string;
  ext: string;
  /** Canonical absolute path. */
  path: string;
  /** Path relative to the root as listed (before following symlinks), '/'-separated. */
  relPath: string;
}

/** Orders ids numerically when both are all digits ("99" < "100"), else lexically. */
export function compareIds(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) {
    const d = Number(a) - Number(b);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

export async function discoverLayout(datasetDir: string): Promise<Layout> {
  const root = await canonicalRoot(datasetDir, 'dataset folder');
  const problems: string[] = [];
  const warnings: string[] = [];

  /** Lists one folder; returns undefined (with a problem unless optional) when it is unusable. */
  const rejectedStems = new Set<string>();
  async function listFolder(relDir: string, optional: boolean): Promise<FoundFile[] | undefined> {
    const canon = await canonicalInside(root, path.join(root, relDir));
    if (!canon.ok) {
      if (optional && canon.reason === 'dangling symlink or missing file') return undefined;
      problems.push(`${relDir}: ${canon.reason === 'dangling symlink or missing file' ? 'required folder missing' : canon.reason}`);
      return undefined;
    }
    if (!(await stat(canon.path)).isDirectory()) {
      problems.push(`${relDir}: not a directory`);
      return undefined;
    }
    const names = (await readdir(canon.path)).sort();
    const files: FoundFile[] = [];
    for (const name of names) {
      const relPath = `${relDir}/${name}`;
      if (name.startsWith('.')) {
        warnings.push(`${relPath}: hidden file ignored`);
        continue;
      }
      const ext = path.extname(name).toLowerCase();
      const stem = name.slice(0, name.length - ext.length);
      const resolved = await canonicalInside(root, path.join(canon.path, name));
      if (!resolved.ok) {
        problems.push(`${relPath}: ${resolved.reason}`);
        rejectedStems.add(stem);
        continue;
      }
      const st = await stat(resolved.path);
      if (st.isDirectory()) {
        warnings.push(`${relPath}: sub-folder ignored`);
        continue;
      }
      if (!st.isFile()) {
        problems.push(`${relPath}: not a regular file`);
        rejectedStems.add(stem);
        continue;
      }
      files.push({ stem, ext, path: resolved.path, relPath });
    }
    return files;
  }

  // Images, per split.
  const images = new Map<string, { split: Split; path: string; relPath: string; format: ImageFormat }>();
  for (const split of Object.keys(SPLIT_FOLDERS) as Split[]) {
    const relDir = `${RAW_IMAGE}/${SPLIT_FOLDERS[split]}`;
    const files = await listFolder(relDir, !REQUIRED_SPLITS.has(split));
    for (const f of files ?? []) {
      const format = IMAGE_EXTENSIONS[f.ext];
      if (format === undefined) {
        warnings.push(`${f.relPath}: not a .bmp/.jpg/.jpeg/.png image, ignored`);
        continue;
      }
      if (!isSafeId(f.stem)) {
        problems.push(`${f.relPath}: ${unsafeIdProblem(f.stem)}`);
        continue;
      }
      const prior = images.get(f.stem);
      if (prior !== undefined) {
        problems.push(`${f.relPath}: duplicate image id ${f.stem} (also ${prior.relPath})`);
        continue;
      }
      images.set(f.stem, { split, path: f.path, relPath: f.relPath, format });
    }
  }

  // Annotations, per doctor.
  const labels: Record<Doctor, Map<string, FoundFile>> = { senior: new Map(), junior: new Map() };
  for (const doctor of Object.keys(DOCTOR_FOLDERS) as Doctor[]) {
    const files = await listFolder(`${ANNOTATIONS}/${DOCTOR_FOLDERS[doctor]}`, false);
    for (const f of files ?? []) {
      if (f.ext !== '.txt') {
        warnings.push(`${f.relPath}: not a .txt annotation, ignored`);
        continue;
      }
      if (!isSafeId(f.stem)) {
        problems.push(`${f.relPath}: ${unsafeIdProblem(f.stem, 'annotation')}`);
        continue;
      }
      labels[doctor].set(f.stem, f);
    }
  }

  // Pairing.
  const entries: LayoutEntry[] = [];
  for (const [id, image] of images) {
    const senior = labels.senior.get(id);
    const junior = labels.junior.get(id);
    for (const [doctor, found] of [['senior', senior], ['junior', junior]] as const) {
      if (found === undefined && !rejectedStems.has(id)) problems.push(`${image.relPath}: image without ${doctor} annotation (expected ${ANNOTATIONS}/${DOCTOR_FOLDERS[doctor]}/${id}.txt)`);
    }
    if (senior === undefined || junior === undefined) continue;
    entries.push({
      id,
      split: image.split,
      image: { path: image.path, relPath: image.relPath, format: image.format },
      senior: { path: senior.path, relPath: senior.relPath },
      junior: { path: junior.path, relPath: junior.relPath },
    });
  }
  for (const doctor of Object.keys(labels) as Doctor[]) {
    for (const [id, f] of labels[doctor]) {
      if (!images.has(id) && !rejectedStems.has(id)) problems.push(`${f.relPath}: annotation without image (no ${RAW_IMAGE}/*/${id}.{bmp,jpg,jpeg,png})`);
    }
  }
  entries.sort((a, b) => compareIds(a.id, b.id));
  return { root, entries, problems, warnings };
}
