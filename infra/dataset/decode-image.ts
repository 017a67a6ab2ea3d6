/**
 * Decodes one source image to 8-bit grey, or throws an ImageProblem naming what is wrong
 * (docs/reliability.md#b2, #b3). JPEG and PNG go through sharp with an explicit pixel cap and
 * `failOn: 'error'` (stricter than 'truncated': truncated or corrupt data fails, harmless libjpeg
 * warnings do not); BMP goes through ./bmp.
 *
 * Explicit choices (documented, not silent conversions):
 * - The format is sniffed from the magic bytes and must agree with the file extension.
 * - 16-bit PNGs are REJECTED: any 16→8-bit mapping (PIL clips, libvips scales) would be a silent
 *   windowing decision; convert them to 8-bit yourself first.
 * - An EXIF orientation other than 1 is REJECTED: the annotations are in stored-pixel
 *   coordinates, and a viewer would show a rotated image, so which frame they refer to is ambiguous.
 * - Grey conversion and the colour policy are in ./grey: near-grey images (≤ 1 % colour pixels,
 *   like ISBI 300.jpg) are converted with Pillow's luma, real colour images are rejected; an
 *   alpha channel is accepted only when fully opaque.
 */
import sharp from 'sharp';
import { decodeBmpGrey } from './bmp';
import { ImageProblem } from './bmp-problem';
import { LAYOUTS, toGrey, type GreyConversion } from './grey';
import { MAX_INPUT_PIXELS, type ImageFormat } from './types';

export { ImageProblem } from './bmp-problem';
export type { GreyConversion } from './grey';

export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d) return 'bmp';
  return null;
}

const FORMAT_NAMES: Record<ImageFormat, string> = { jpeg: 'JPEG', png: 'PNG', bmp: 'BMP' };

export async function decodeGrey(bytes: Uint8Array, expected: ImageFormat, maxPixels = MAX_INPUT_PIXELS): Promise<GreyConversion> {
  if (bytes.length === 0) throw new ImageProblem('empty image file (0 bytes)');
  const actual = sniffFormat(bytes);
  if (actual === null) throw new ImageProblem(`not a JPEG, PNG or BMP file (wrong magic bytes for ${FORMAT_NAMES[expected]})`);
  if (actual !== expected) throw new ImageProblem(`content is ${FORMAT_NAMES[actual]} but the extension says ${FORMAT_NAMES[expected]}`);
  if (actual === 'bmp') return decodeBmpGrey(bytes, maxPixels);
  return decodeWithSharp(bytes, maxPixels);
}

async function decodeWithSharp(bytes: Uint8Array, maxPixels: number): Promise<GreyConversion> {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const options = { limitInputPixels: maxPixels, failOn: 'error', sequentialRead: true } as const;
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input, options).metadata();
  } catch (err) {
    throw new ImageProblem(`corrupt image (${describeSharpError(err)})`);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width <= 0 || height <= 0) throw new ImageProblem('corrupt image (no size in header)');
  if (width * height > maxPixels) {
    throw new ImageProblem(`image too large: ${width}x${height} = ${width * height} pixels exceeds the limit of ${maxPixels}`);
  }
  if (meta.depth !== undefined && meta.depth !== 'uchar') {
    throw new ImageProblem(`${meta.depth === 'ushort' ? '16-bit' : meta.depth} image not supported: convert it to 8-bit first`);
  }
  if (meta.orientation !== undefined && meta.orientation !== 1) {
    throw new ImageProblem(`EXIF orientation ${meta.orientation} not supported: landmarks would be ambiguous; rotate the pixels and drop the tag`);
  }
  if ((meta.pages ?? 1) > 1) throw new ImageProblem(`multi-page image (${meta.pages} pages) not supported`);

  let data: Buffer;
  let info: sharp.OutputInfo;
  try {
    ({ data, info } = await sharp(input, options).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new ImageProblem(`corrupt or truncated image (${describeSharpError(err)})`);
  }
  if (info.width !== width || info.height !== height) throw new ImageProblem('corrupt image: decoded size differs from the header');
  const layout = [LAYOUTS.grey, LAYOUTS.greyAlpha, LAYOUTS.rgb, LAYOUTS.rgba][info.channels - 1];
  if (layout === undefined) throw new ImageProblem(`unsupported channel count ${info.channels}`);
  return toGrey(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, layout);
}

function describeSharpError(err: unknown): string {
  const msg = (err as Error).message ?? String(err);
  return msg.split('\n')[0]?.slice(0, 200) ?? 'decode error';
}
