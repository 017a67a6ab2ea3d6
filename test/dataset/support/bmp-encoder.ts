/**
 * TEST-ONLY minimal BMP writer, to make fixtures like the official ISBI release (8-bit
 * palettised greyscale) and other variants the decoder must handle or reject.
 */
export interface BmpFixtureOptions {
  width: number;
  height: number;
  /** Grey value per pixel, row-major top row first. */
  grey: Uint8Array;
  bitsPerPixel?: 8 | 24 | 32;
  topDown?: boolean;
  /** 40 = BITMAPINFOHEADER (default), 108 = V4, 124 = V5. */
  headerSize?: 40 | 108 | 124;
  /** Extra bytes between the palette and the pixel data (the offset field accounts for them). */
  gapBytes?: number;
  /** Override the palette (8-bit): defaults to the 256 grey ramp. Entries as [r, g, b]. */
  palette?: Array<[number, number, number]>;
  compression?: number;
}

export function encodeBmp(o: BmpFixtureOptions): Uint8Array {
  const bpp = o.bitsPerPixel ?? 8;
  const headerSize = o.headerSize ?? 40;
  const palette = bpp === 8 ? (o.palette ?? Array.from({ length: 256 }, (_, i): [number, number, number] => [i, i, i])) : [];
  const gap = o.gapBytes ?? 0;
  const stride = Math.floor((bpp * o.width + 31) / 32) * 4;
  const offset = 14 + headerSize + palette.length * 4 + gap;
  const size = offset + stride * o.height;
  const buf = Buffer.alloc(size);
  buf.write('BM', 0, 'latin1');
  buf.writeUInt32LE(size, 2);
  buf.writeUInt32LE(offset, 10);
  buf.writeUInt32LE(headerSize, 14);
  buf.writeInt32LE(o.width, 18);
  buf.writeInt32LE(o.topDown ? -o.height : o.height, 22);
  buf.writeUInt16LE(1, 26);
  buf.writeUInt16LE(bpp, 28);
  buf.writeUInt32LE(o.compression ?? 0, 30);
  buf.writeUInt32LE(stride * o.height, 34);
  buf.writeInt32LE(2835, 38);
  buf.writeInt32LE(2835, 42);
  buf.writeUInt32LE(bpp === 8 ? palette.length : 0, 46);
  if (headerSize >= 108) buf.write('BGRs', 14 + 56, 'latin1'); // colour space type sRGB (V4+)
  palette.forEach(([r, g, b], i) => {
    const p = 14 + headerSize + 4 * i;
    buf[p] = b;
    buf[p + 1] = g;
    buf[p + 2] = r;
  });
  for (let y = 0; y < o.height; y++) {
    const fileRow = o.topDown ? y : o.height - 1 - y;
    const rowStart = offset + fileRow * stride;
    for (let x = 0; x < o.width; x++) {
      const v = o.grey[y * o.width + x] as number;
      if (bpp === 8) buf[rowStart + x] = v;
      else {
        const bytes = bpp / 8;
        buf[rowStart + x * bytes] = v;
        buf[rowStart + x * bytes + 1] = v;
        buf[rowStart + x * bytes + 2] = v;
        if (bytes === 4) buf[rowStart + x * bytes + 3] = 255;
      }
    }
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
