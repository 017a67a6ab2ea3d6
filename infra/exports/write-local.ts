/**
 * Writes local files so that none is ever seen half-written, creating missing parent folders.
 * A set of files under a folder (`writeFilesAtomically`): everything goes to a temporary folder
 * next to the target first; then a missing (or empty) target folder is replaced by it in one
 * rename, and an existing one gets each file by its own rename. One file (`writeFileAtomically`):
 * a temporary file next to it, then one rename. A failure before the renames leaves the target
 * untouched (the temporary folder or file is removed).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface LocalFile {
  /** '/'-separated, relative to the target folder; validated by the caller. */
  relPath: string;
  bytes: Uint8Array;
}

async function isMissingOrEmpty(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
}

export async function writeFilesAtomically(dir: string, files: readonly LocalFile[]): Promise<void> {
  const target = path.resolve(dir);
  for (const f of files) {
    const resolved = path.resolve(target, f.relPath);
    if (!resolved.startsWith(target + path.sep)) throw new Error(`refusing to write ${f.relPath} outside ${target}`);
  }
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    for (const f of files) {
      const file = path.join(tmp, f.relPath);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, f.bytes);
    }
    await mkdir(tmp, { recursive: true });
    if (await isMissingOrEmpty(target)) {
      await rmdir(target).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      await rename(tmp, target);
      return;
    }
    for (const f of files) {
      const dest = path.join(target, f.relPath);
      await mkdir(path.dirname(dest), { recursive: true });
      await rename(path.join(tmp, f.relPath), dest);
    }
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
