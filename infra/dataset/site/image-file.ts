/**
 * Which files of a folder are images and what their ids are, for `site add` and `predict`: a known
 * extension (.png, .jpg/.jpeg, .bmp, .tif/.tiff, .dcm/.dicom) names the format and the id is the
 * name without it; any other file is a DICOM when its bytes carry the "DICM" magic, and its id is
 * the whole name. PACS exports name files by their DICOM UID without an extension
 * ("1.2.840.113619.2.55.3.604688"), whose last dot is no extension.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { hasDicomMagic, SITE_IMAGE_EXTENSIONS } from './raster';
import type { SiteImageFormat } from './types';

export interface ImageFileKind {
  format: SiteImageFormat;
  id: string;
}

/** Bytes of a file's start that decide a name without a known extension: the DICOM preamble and magic. */
const HEAD_BYTES = 132;

/** The image kind of a file named `name` whose bytes (or first HEAD_BYTES of them) are `head`; undefined when not an image. */
export function imageKindOf(name: string, head: Uint8Array): ImageFileKind | undefined {
  const ext = path.extname(name);
  const known = SITE_IMAGE_EXTENSIONS[ext.toLowerCase()];
  if (known !== undefined) return { format: known, id: name.slice(0, name.length - ext.length) };
  return hasDicomMagic(head) ? { format: 'dicom', id: name } : undefined;
}

/** The image kind of file `name` at `file`, reading only its first bytes; undefined for a file that is not an image. */
export async function imageFileKind(name: string, file: string): Promise<ImageFileKind | undefined> {
  if (SITE_IMAGE_EXTENSIONS[path.extname(name).toLowerCase()] !== undefined) return imageKindOf(name, new Uint8Array(0));
  return imageKindOf(name, await readHead(file));
}

async function readHead(file: string): Promise<Uint8Array> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (handle === undefined) return new Uint8Array(0);
  try {
    const head = new Uint8Array(HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, HEAD_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
