/**
 * Raster images of a site (PNG, JPEG, BMP, TIFF): format sniffing, a header-only probe for the
 * size, and decoding to 8-bit grey.
 *
 * 8-bit PNG, JPEG and BMP go through the ingester's own decoder (../decode-image), so a site
 * keeps its rules: pixel cap, `failOn: 'error'`, EXIF rotation refused, near-grey colour policy.
 * TIFF and 16-bit PNG/TIFF are decoded here with the same sharp settings and checks; 16-bit
 * samples are reduced to 8 bits by the min-max rule of ./depth (the one DICOM uses without a
 * window). 16-bit colour and float samples are refused.
 */
import sharp from 'sharp';
import { parseBmpHeader } from '../bmp';
import { decodeGrey, sniffFormat } from '../decode-image';
import { LAYOUTS, toGrey, type GreyConversion } from '../grey';
import { MAX_INPUT_PIXELS } from '../types';
import { toGrey8 } from './depth';
import { FileProblem, withFile, type SiteImageFormat } from './types';

export type RasterFormat = Exclude<SiteImageFormat, 'dicom'>;

export const SITE_IMAGE_EXTENSIONS: Record<string, SiteImageFormat> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.bmp': 'bmp',
  '.tif': 'tiff',
  '.tiff': 'tiff',
  '.dcm': 'dicom',
  '.dicom': 'dicom',
};

const FORMAT_NAMES: Record<SiteImageFormat, string> = { png: 'PNG', jpeg: 'JPEG', bmp: 'BMP', tiff: 'TIFF', dicom: 'DICOM' };

/** The bytes that hold the DICOM Part 10 magic: a 128-byte preamble, then "DICM". */
export const DICOM_HEAD_BYTES = 132;

/** True when the bytes carry the DICOM Part 10 magic "DICM" after the 128-byte preamble. */
export function hasDicomMagic(bytes: Uint8Array): boolean {
  return bytes.length >= DICOM_HEAD_BYTES && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

export function sniffSiteFormat(bytes: Uint8Array): SiteImageFormat | null {
  const known = sniffFormat(bytes);
  if (known !== null) return known;
  const b = bytes;
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 0x2a))) return 'tiff';
  return hasDicomMagic(bytes) ? 'dicom' : null;
}

/** Refuses bytes whose magic disagrees with the extension (magic bytes decide, never the name alone). */
export function checkFormat(bytes: Uint8Array, expected: SiteImageFormat, file: string): void {
  if (bytes.length === 0) throw new FileProblem(file, 'empty image file (0 bytes)');
  const actual = sniffSiteFormat(bytes);
  if (actual === null) throw new FileProblem(file, `not a PNG, JPEG, BMP, TIFF or DICOM file (wrong magic bytes for ${FORMAT_NAMES[expected]})`);
  if (actual !== expected) throw new FileProblem(file, `content is ${FORMAT_NAMES[actual]} but the extension says ${FORMAT_NAMES[expected]}`);
}

const SHARP_OPTIONS = (maxPixels: number) => ({ limitInputPixels: maxPixels, failOn: 'error', sequentialRead: true }) as const;

/** sharp metadata with the ingester's checks (size, cap, EXIF orientation, pages); depth is the caller's business. */
async function checkedMetadata(input: Buffer, maxPixels: number, file: string): Promise<sharp.Metadata & { width: number; height: number }> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, SHARP_OPTIONS(maxPixels)).metadata();
  } catch (err) {
    const why = firstLine(err);
    throw new FileProblem(file, /pixel limit/.test(why) ? `image too large: exceeds the limit of ${maxPixels} pixels` : `corrupt image (${why})`);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width <= 0 || height <= 0) throw new FileProblem(file, 'corrupt image (no size in header)');
  if (width * height > maxPixels) throw new FileProblem(file, `image too large: ${width}x${height} = ${width * height} pixels exceeds the limit of ${maxPixels}`);
  if (meta.orientation !== undefined && meta.orientation !== 1) {
    throw new FileProblem(file, `EXIF orientation ${meta.orientation} not supported: landmarks would be ambiguous; rotate the pixels and drop the tag`);
  }
  if ((meta.pages ?? 1) > 1) throw new FileProblem(file, `multi-page image (${meta.pages} pages) not supported`);
  if (meta.depth !== undefined && meta.depth !== 'uchar' && meta.depth !== 'ushort') throw new FileProblem(file, `${meta.depth} samples not supported (8 or 16 bits only)`);
  return { ...meta, width, height };
}

export interface RasterProbe {
  width: number;
  height: number;
}

/** Size from the header only (no pixel decoding), after the format and safety checks. */
export async function probeRaster(bytes: Uint8Array, format: RasterFormat, file: string, maxPixels = MAX_INPUT_PIXELS): Promise<RasterProbe> {
  checkFormat(bytes, format, file);
  if (format === 'bmp') {
    try {
      const h = parseBmpHeader(bytes, maxPixels);
      return { width: h.width, height: h.height };
    } catch (err) {
      throw withFile(file, err);
    }
  }
  const { width, height } = await checkedMetadata(asBuffer(bytes), maxPixels, file);
  return { width, height };
}

export interface DecodedRaster extends GreyConversion {
  bitsStored: 8 | 16;
}

export async function decodeRaster(bytes: Uint8Array, format: RasterFormat, file: string, maxPixels = MAX_INPUT_PIXELS): Promise<DecodedRaster> {
  checkFormat(bytes, format, file);
  if (format === 'bmp') return { ...(await decodeShared(bytes, 'bmp', file, maxPixels)), bitsStored: 8 };
  const input = asBuffer(bytes);
  const meta = await checkedMetadata(input, maxPixels, file);
  const wide = meta.depth === 'ushort';
  if (!wide && format !== 'tiff') return { ...(await decodeShared(bytes, format, file, maxPixels)), bitsStored: 8 };
  if (wide && meta.channels !== 1) throw new FileProblem(file, `16-bit image with ${meta.channels} channels not supported (16-bit greyscale only)`);

  let data: Buffer;
  let info: sharp.OutputInfo;
  try {
    // Without an explicit grey16 colourspace libvips would output 16-bit grey as 3-channel RGB.
    const pipeline = sharp(input, SHARP_OPTIONS(maxPixels));
    ({ data, info } = await (wide ? pipeline.toColourspace('grey16').raw({ depth: 'ushort' }) : pipeline.raw({ depth: 'uchar' })).toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new FileProblem(file, `corrupt or truncated image (${firstLine(err)})`);
  }
  const { width, height } = meta;
  if (info.width !== width || info.height !== height) throw new FileProblem(file, 'corrupt image: decoded size differs from the header');
  if (!wide) {
    const layout = [LAYOUTS.grey, LAYOUTS.greyAlpha, LAYOUTS.rgb, LAYOUTS.rgba][info.channels - 1];
    if (layout === undefined) throw new FileProblem(file, `unsupported channel count ${info.channels}`);
    try {
      return { ...toGrey(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, layout), bitsStored: 8 };
    } catch (err) {
      throw withFile(file, err);
    }
  }
  if (info.channels !== 1) throw new FileProblem(file, `16-bit decode gave ${info.channels} channels, 1 expected`);
  // sharp returns 16-bit samples in host byte order; copy when the view would be misaligned.
  const bytes16 = data.byteOffset % 2 === 0 ? data : new Uint8Array(data);
  const samples = new Uint16Array(bytes16.buffer, bytes16.byteOffset, width * height);
  return { width, height, data: toGrey8(samples, { kind: 'min-max' }), colourPixels: 0, maxChannelDiff: 0, bitsStored: 16 };
}

async function decodeShared(bytes: Uint8Array, format: 'png' | 'jpeg' | 'bmp', file: string, maxPixels: number): Promise<GreyConversion> {
  try {
    return await decodeGrey(bytes, format, maxPixels);
  } catch (err) {
    throw withFile(file, err);
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function firstLine(err: unknown): string {
  const msg = (err as Error).message ?? String(err);
  return msg.split('\n')[0]?.slice(0, 200) ?? 'decode error';
}
