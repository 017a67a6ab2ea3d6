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

/** The image kind of file `name` at `file`, undefined for a file that is not an image. */
export async function imageFileKind(name: string, file: string): Promise<ImageFileKind | undefined> {
  const ext = path.extname(name);
  const known = SITE_IMAGE_EXTENSIONS[ext.toLowerCase()];
  if (known !== undefined) return { format: known, id: name.slice(0, name.length - ext.length) };
  return (await startsAsDicom(file)) ? { format: 'dicom', id: name } : undefined;
}

async function startsAsDicom(file: string): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (handle === undefined) return false;
  try {
    const head = new Uint8Array(132);
    const { bytesRead } = await handle.read(head, 0, 132, 0);
    return hasDicomMagic(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}
