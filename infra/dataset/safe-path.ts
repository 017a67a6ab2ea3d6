/**
 * Path and key safety (docs/reliability.md#b1). Every file the ingester opens is canonicalised with
 * realpath and must lie inside the canonical dataset root; strings are never "cleaned" of `..`.
 * Names that become object-store keys (image ids, site) must match a strict allow-list.
 */
import { realpath, stat } from 'node:fs/promises';
import { DatasetInvalidError } from '../errors';
import path from 'node:path';

/**
 * Image/annotation ids (file stems): letters, digits, '_', '-' and '.', starting with a letter or
 * digit, not ending with '.', no '..', at most 64 characters (a DICOM UID fits).
 */
const SAFE_ID = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_-])?$/;

export function isSafeId(stem: string): boolean {
  return SAFE_ID.test(stem) && !stem.includes('..');
}

/** The problem line for an id that is not safe (one wording for every reader). */
export function unsafeIdProblem(id: string, what: 'image' | 'annotation' = 'image'): string {
  return `unsafe ${what} id ${JSON.stringify(id)} (allowed: letters, digits, "_", "-" and "." inside, at most 64 characters)`;
}

/** A key segment such as a site name: lower-case slug, no dots-only, no separators or escapes. */
const SAFE_SEGMENT = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function isSafeKeySegment(segment: string): boolean {
  return SAFE_SEGMENT.test(segment);
}

/** True when `candidate` (canonical, absolute) is `root` itself or lies below it. */
export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel) && rel.split(path.sep)[0] !== '..');
}

export type Canonical = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Canonicalises `absPath` (following every symlink) and checks it stays inside `root`
 * (which must itself be canonical). Nothing is read.
 */
export async function canonicalInside(root: string, absPath: string): Promise<Canonical> {
  let real: string;
  try {
    real = await realpath(absPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, reason: 'dangling symlink or missing file' };
    if (code === 'ELOOP') return { ok: false, reason: 'symlink loop' };
    return { ok: false, reason: `cannot resolve path (${code ?? 'error'})` };
  }
  if (!isInside(root, real)) return { ok: false, reason: 'resolves outside the dataset root (symlink escaping the root)' };
  return { ok: true, path: real };
}

/**
 * The canonical (realpath) root of a folder to ingest; every later containment check is against
 * it. A missing folder or a file is a DatasetInvalidError naming `dir` (`what`: "dataset folder").
 */
export async function canonicalRoot(dir: string, what: string): Promise<string> {
  try {
    const root = await realpath(path.resolve(dir));
    if (!(await stat(root)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    return root;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetInvalidError([`${dir}: ${code === 'ENOTDIR' ? 'not a directory' : `${what} not found`}`]);
  }
}
