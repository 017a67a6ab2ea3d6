/**
 * BMP decoding for the official ISBI 2015 release (8-bit BMPs). sharp/libvips cannot read BMP, so
 * pixel decoding is delegated to `bmp-js` (pinned 0.1.0), after this module has checked the header
 * itself, because bmp-js 0.1.0:
 * - ignores the pixel-data offset field (it reads the palette right after a 40-byte header and the
 *   pixels right after the palette), so V4/V5 headers or gaps before the pixel array decode as
 *   garbage: we re-pack every file into the canonical layout (54-byte header, palette, pixels);
 * - allocates width·height·4 bytes before reading anything: we enforce MAX_INPUT_PIXELS first;
 * - maps out-of-palette indices silently to white (checked here first) and returns pixels as
 *   [A, B, G, R], not RGBA, with A = 0 even for opaque images (so alpha is ignored).
 * Supported: uncompressed (BI_RGB) 8-bit palettised/greyscale, 24-bit and 32-bit, bottom-up or
 * top-down. RLE and bit-field BMPs are rejected with a clear message.
 */
import { createRequire } from 'node:module';
import { ImageProblem } from './bmp-problem';
import { LAYOUTS, toGrey, type GreyConversion } from './grey';
import { MAX_INPUT_PIXELS } from './types';

interface BmpJsDecoded {
  width: number;
  height: number;
  /** [A, B, G, R] per pixel. */
  data: Uint8Array;
}
const require = createRequire(import.meta.url);
const bmpJs = require('bmp-js') as { decode(buffer: Buffer): BmpJsDecoded };

export { ImageProblem };

const HEADER_SIZES = new Set([40, 52, 56, 108, 124]);

export interface BmpHeader {
  width: number;
  height: number;
  topDown: boolean;
  bitsPerPixel: 8 | 24 | 32;
  paletteEntries: number;
  pixelOffset: number;
  stride: number;
}

export function parseBmpHeader(bytes: Uint8Array, maxPixels = MAX_INPUT_PIXELS): BmpHeader {
  if (bytes.length < 54) throw new ImageProblem(`truncated BMP: ${bytes.length} bytes, shorter than its header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0x42 || bytes[1] !== 0x4d) throw new ImageProblem('not a BMP file (wrong magic bytes)');
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (!HEADER_SIZES.has(headerSize)) throw new ImageProblem(`unsupported BMP header size ${headerSize}`);
  const width = view.getInt32(18, true);
  const rawHeight = view.getInt32(22, true);
  const planes = view.getUint16(26, true);
  const bpp = view.getUint16(28, true);
  const compression = view.getUint32(30, true);
  const colors = view.getUint32(46, true);
  if (planes !== 1) throw new ImageProblem(`corrupt BMP header: ${planes} planes`);
  if (width <= 0 || rawHeight === 0 || rawHeight === -2147483648) throw new ImageProblem(`corrupt BMP header: size ${width}x${rawHeight}`);
  const height = Math.abs(rawHeight);
  if (width * height > maxPixels) {
    throw new ImageProblem(`image too large: ${width}x${height} = ${width * height} pixels exceeds the limit of ${maxPixels}`);
  }
  if (bpp !== 8 && bpp !== 24 && bpp !== 32) throw new ImageProblem(`unsupported BMP bit depth ${bpp} (supported: 8, 24, 32)`);
  if (compression !== 0) throw new ImageProblem(`unsupported BMP compression ${compression} (only uncompressed BI_RGB)`);
  let paletteEntries = 0;
  if (bpp === 8) {
    paletteEntries = colors === 0 ? 256 : colors;
    if (paletteEntries > 256) throw new ImageProblem(`corrupt BMP header: ${colors} palette entries for 8-bit`);
    const paletteStart = 14 + headerSize;
    if (paletteStart + 4 * paletteEntries > pixelOffset) throw new ImageProblem('corrupt BMP: palette overlaps the pixel data');
  } else if (pixelOffset < 14 + headerSize) {
    throw new ImageProblem('corrupt BMP: pixel data offset inside the header');
  }
  const stride = Math.floor((bpp * width + 31) / 32) * 4;
  const needed = pixelOffset + stride * height;
  if (bytes.length < needed) throw new ImageProblem(`truncated BMP: pixel data needs ${needed} bytes, file has ${bytes.length}`);
  return { width, height, topDown: rawHeight < 0, bitsPerPixel: bpp, paletteEntries, pixelOffset, stride };
}

/** Decodes a BMP to 8-bit grey (./grey: near-grey images converted, colour images rejected). */
export function decodeBmpGrey(bytes: Uint8Array, maxPixels = MAX_INPUT_PIXELS): GreyConversion {
  const h = parseBmpHeader(bytes, maxPixels);
  const pixelBytes = h.stride * h.height;
  if (h.bitsPerPixel === 8) {
    for (let i = h.pixelOffset, end = h.pixelOffset + pixelBytes, row = 0; i < end; i += h.stride, row++) {
      for (let x = 0; x < h.width; x++) {
        const index = bytes[i + x] as number;
        if (index >= h.paletteEntries) throw new ImageProblem(`corrupt BMP: palette index ${index} out of range in row ${row}`);
      }
    }
  }
  // Re-pack as BITMAPFILEHEADER + BITMAPINFOHEADER (54 bytes) + palette + pixels for bmp-js.
  const paletteBytes = 4 * h.paletteEntries;
  const canonical = Buffer.alloc(54 + paletteBytes + pixelBytes);
  canonical.write('BM', 0, 'latin1');
  canonical.writeUInt32LE(canonical.length, 2);
  canonical.writeUInt32LE(54 + paletteBytes, 10);
  canonical.writeUInt32LE(40, 14);
  canonical.writeInt32LE(h.width, 18);
  canonical.writeInt32LE(h.topDown ? -h.height : h.height, 22);
  canonical.writeUInt16LE(1, 26);
  canonical.writeUInt16LE(h.bitsPerPixel, 28);
  canonical.writeUInt32LE(0, 30);
  canonical.writeUInt32LE(pixelBytes, 34);
  canonical.writeUInt32LE(h.paletteEntries, 46);
  if (paletteBytes > 0) {
    const headerSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(14, true);
    canonical.set(bytes.subarray(14 + headerSize, 14 + headerSize + paletteBytes), 54);
  }
  canonical.set(bytes.subarray(h.pixelOffset, h.pixelOffset + pixelBytes), 54 + paletteBytes);

  let decoded: BmpJsDecoded;
  try {
    decoded = bmpJs.decode(canonical);
  } catch (err) {
    throw new ImageProblem(`corrupt BMP (${(err as Error).message})`);
  }
  if (decoded.width !== h.width || decoded.height !== h.height) throw new ImageProblem('corrupt BMP: decoder disagrees on the size');
  return toGrey(decoded.data, h.width, h.height, LAYOUTS.abgr);
}
