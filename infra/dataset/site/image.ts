/** One entry point per operation for every site image format: header probe and full decode to 8-bit grey. */
import { MAX_INPUT_PIXELS, type GreyImage8 } from '../types';
import { decodeDicom, probeDicom } from './dicom';
import { decodeRaster, probeRaster } from './raster';
import type { SiteImageFormat, Spacing } from './types';

export interface SiteImageProbe {
  width: number;
  height: number;
  /** From the DICOM header; other formats carry none. */
  spacing?: Spacing;
}

export async function probeSiteImage(bytes: Uint8Array, format: SiteImageFormat, file: string, maxPixels = MAX_INPUT_PIXELS): Promise<SiteImageProbe> {
  if (format !== 'dicom') return probeRaster(bytes, format, file, maxPixels);
  const { width, height, spacing } = probeDicom(bytes, file, maxPixels);
  return spacing === undefined ? { width, height } : { width, height, spacing };
}

export interface DecodedSiteImage extends GreyImage8 {
  bitsStored: number;
  spacing?: Spacing;
}

export async function decodeSiteImage(bytes: Uint8Array, format: SiteImageFormat, file: string, maxPixels = MAX_INPUT_PIXELS): Promise<DecodedSiteImage> {
  return format === 'dicom' ? decodeDicom(bytes, file, maxPixels) : decodeRaster(bytes, format, file, maxPixels);
}
