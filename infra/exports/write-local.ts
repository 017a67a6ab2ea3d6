/**
 * Writes local files so that none is ever seen half-written, creating missing parent folders.
 * A set of files under a folder (`writeFolderAtomically`): everything goes to a temporary folder
 * next to the target first; then the target folder, missing, empty or holding only an earlier set
 * of the same kind (`owns`), is replaced by it: one rename, or for an earlier set two (the old
 * folder aside, the new one in; between them the folder is briefly absent, and if the second
 * rename fails the old folder is put back), so a reader never sees a mix of two sets. Refused
 * before anything is written (`checkTargetFolder`, which callers also run before long work): a
 * folder holding anything else, a file or a symbolic link in its place, the filesystem root, and a
 * folder holding the working directory (replacing it would leave the user's shell in a removed
 * folder). One file (`writeFileAtomically`): a temporary file next to it, then one rename. A
 * failure before the renames leaves the target untouched.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../errors';

export interface LocalFile {
  /** '/'-separated, relative to the target folder; validated by the caller. */
  relPath: string;
  bytes: Uint8Array;
}

/**
 * Whether an entry of an existing target folder (its '/'-separated path in it) belongs to a set
 * the new one replaces; asked for folders too (with a trailing '/'), which are entered only when owned.
 */
export type OwnsFile = (relPath: string) => boolean;

/** The first entries under `dir` that `owns` does not claim (at most `limit`), entering owned folders only. */
async function foreignEntries(dir: string, owns: OwnsFile, limit: number, prefix = ''): Promise<{ foreign: string[]; entries: number }> {
  const foreign: string[] = [];
  let entries = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    entries++;
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory() && owns(`${rel}/`)) {
      const inner = await foreignEntries(path.join(dir, entry.name), owns, limit - foreign.length, rel);
      foreign.push(...inner.foreign);
    } else if (!entry.isFile() || !owns(rel)) {
      foreign.push(entry.isDirectory() ? `${rel}/` : rel);
    }
    if (foreign.length >= limit) break;
  }
  return { foreign, entries };
}

/**
 * What the target folder holds: nothing (missing or empty) or only an earlier set; a UserError
 * naming `what` (the option) for anything else (see the file's comment).
 */
export async function checkTargetFolder(dir: string, owns: OwnsFile, what: string): Promise<'empty' | 'earlier-set'> {
  const target = path.resolve(dir);
  if (path.dirname(target) === target) throw new UserError(`${what} ${dir}: the filesystem root; give a folder of its own`);
  if (!path.relative(target, process.cwd()).startsWith('..')) throw new UserError(`${what} ${dir}: holds the current directory, which replacing the folder would remove; give another folder`);
  let st;
  try {
    st = await lstat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'empty';
    throw err;
  }
  if (st.isSymbolicLink()) throw new UserError(`${what} ${dir}: a symbolic link; give the folder it points to`);
  if (!st.isDirectory()) throw new UserError(`${what} ${dir}: a file, not a folder`);
  const { foreign, entries } = await foreignEntries(target, owns, 4);
  if (entries === 0) return 'empty';
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? ', …' : '');
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
      await rename(tmp, target);
      return;
    }
    await rename(target, old);
    try {
      await rename(tmp, target);
    } catch (err) {
      // Put the earlier export back rather than leave neither.
      await rename(old, target).catch(() => undefined);
      throw err;
    }
    await rm(old, { recursive: true, force: true });
  } finally {
    await rm(tmp, { recursive: true, force: true });
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
