/**
 * Which files of a folder are images and what their ids are, for `site add` and `predict`: a known
 * extension (.png, .jpg/.jpeg, .bmp, .tif/.tiff, .dcm/.dicom) names the format and the id is the
 * name without it; any other file is a DICOM when its bytes carry the "DICM" magic, and its id is
 * the whole name. PACS exports name files by their DICOM UID without an extension
 * ("1.2.840.113619.2.55.3.604688"), whose last dot is no extension.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { DICOM_HEAD_BYTES, hasDicomMagic, SITE_IMAGE_EXTENSIONS } from './raster';
import type { SiteImageFormat } from './types';

export interface ImageFileKind {
  format: SiteImageFormat;
  id: string;
}

/** The format and id a known extension gives, else undefined. */
function byExtension(name: string): ImageFileKind | undefined {
  const ext = path.extname(name);
  const format = SITE_IMAGE_EXTENSIONS[ext.toLowerCase()];
  return format !== undefined ? { format, id: name.slice(0, name.length - ext.length) } : undefined;
}

/** The image kind of a file named `name` whose bytes (or their first DICOM_HEAD_BYTES) are `head`; undefined when not an image. */
export function imageKindOf(name: string, head: Uint8Array): ImageFileKind | undefined {
  return byExtension(name) ?? (hasDicomMagic(head) ? { format: 'dicom', id: name } : undefined);
}

/** The image kind of file `name` at `file`, opening it only when its name does not decide; undefined for a file that is not an image. */
export async function imageFileKind(name: string, file: string): Promise<ImageFileKind | undefined> {
  return byExtension(name) ?? imageKindOf(name, await readHead(file));
}

async function readHead(file: string): Promise<Uint8Array> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (handle === undefined) return new Uint8Array(0);
  try {
    const head = new Uint8Array(DICOM_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, DICOM_HEAD_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
