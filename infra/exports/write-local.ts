/**
 * Writes local files so that none is ever seen half-written, creating missing parent folders.
 * A set of files under a folder (`writeFolderAtomically`): everything goes to a temporary folder
 * next to the target first; then the target folder, missing, empty or holding only an earlier set
 * of the same kind (`owns`), is replaced by it: one rename, or for an earlier set two (the old
 * folder aside, the new one in), so a reader sees the old set or the new one, never a mix of
 * both. A folder holding anything else is refused before anything is written (`checkTargetFolder`,
 * which callers also run before long work). One file (`writeFileAtomically`): a temporary file
 * next to it, then one rename. A failure before the renames leaves the target untouched.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors';

export interface LocalFile {
  /** '/'-separated, relative to the target folder; validated by the caller. */
  relPath: string;
  bytes: Uint8Array;
}

/** Whether a file of an existing target folder (its '/'-separated path in it) belongs to a set the new one replaces. */
export type OwnsFile = (relPath: string) => boolean;

/** Every file under `dir`, '/'-separated and relative to it. */
async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await filesUnder(path.join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out;
}

/**
 * What the target folder holds: nothing (missing or empty) or only an earlier set; a UserError
 * naming `what` (the option) for a file in its place or a folder holding other files.
 */
export async function checkTargetFolder(dir: string, owns: OwnsFile, what: string): Promise<'empty' | 'earlier-set'> {
  const target = path.resolve(dir);
  let st;
  try {
    st = await stat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'empty';
    throw err;
  }
  if (!st.isDirectory()) throw new UserError(`${what} ${dir}: a file, not a folder`);
  const files = await filesUnder(target);
  if (files.length === 0) return 'empty';
  const foreign = files.filter((f) => !owns(f));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? `, … (${foreign.length} files)` : '');
    throw new UserError(`${what} ${dir}: holds files that are not an earlier export (${shown}); give a new or empty folder, or one holding only an earlier export, which is replaced as a whole`);
  }
  return 'earlier-set';
}

export async function writeFolderAtomically(dir: string, files: readonly LocalFile[], owns: OwnsFile, what: string): Promise<void> {
  const target = path.resolve(dir);
  for (const f of files) {
    const resolved = path.resolve(target, f.relPath);
    if (!resolved.startsWith(target + path.sep)) throw new Error(`refusing to write ${f.relPath} outside ${target}`);
  }
  const state = await checkTargetFolder(target, owns, what);
  await mkdir(path.dirname(target), { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${target}.tmp-${suffix}`;
  const old = `${target}.old-${suffix}`;
  try {
    await mkdir(tmp, { recursive: true });
    for (const f of files) {
      const file = path.join(tmp, f.relPath);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, f.bytes);
    }
    if (state === 'empty') {
      await rmdir(target).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    } else {
      await rename(target, old);
    }
    await rename(tmp, target);
  } finally {
    await rm(tmp, { recursive: true, force: true });
    await rm(old, { recursive: true, force: true });
  }
}

export async function writeFileAtomically(file: string, bytes: Uint8Array): Promise<void> {
  const target = path.resolve(file);
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, target);
  } finally {
    await rm(tmp, { force: true });
  }
}
