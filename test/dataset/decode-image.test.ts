import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { crc32 } from 'node:zlib';
import { decodeGrey, sniffFormat } from '../../infra/dataset/decode-image';
import { encodeImage, greyPattern } from './support/fixtures';

const W = 40;
const H = 50;

async function png16(): Promise<Uint8Array> {
  const raw = new Uint16Array(W * H).map((_, i) => i * 20);
  return new Uint8Array(await sharp(Buffer.from(raw.buffer), { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16').png().toBuffer());
}

/** A valid small PNG whose IHDR claims `w`×`h` (CRC fixed), like a 600 KB "14000×14000" bomb. */
async function forgedPng(w: number, h: number): Promise<Uint8Array> {
  const b = Buffer.from(await encodeImage('png'));
  b.writeUInt32BE(w, 16);
  b.writeUInt32BE(h, 20);
  b.writeUInt32BE(crc32(b.subarray(12, 29)), 29);
  return new Uint8Array(b);
}

/** A JPEG whose SOF0 header claims a huge size. */
async function forgedJpeg(w: number, h: number): Promise<Uint8Array> {
  const b = Buffer.from(await encodeImage('jpg'));
  for (let i = 2; i < b.length - 9; ) {
    const marker = b[i + 1] as number;
    const len = b.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc2) {
      b.writeUInt16BE(h, i + 5);
      b.writeUInt16BE(w, i + 7);
      return new Uint8Array(b);
    }
    i += 2 + len;
  }
  throw new Error('no SOF marker');
}

describe('decodeGrey', () => {
  it('decodes 8-bit grey PNG and JPEG (sharp) and BMP (bmp-js)', async () => {
    const png = await decodeGrey(await encodeImage('png'), 'png');
    expect([png.width, png.height]).toEqual([W, H]);
    expect([...png.data]).toEqual([...greyPattern(W, H)]);
    const jpg = await decodeGrey(await encodeImage('jpg'), 'jpeg');
    expect([jpg.width, jpg.height, jpg.data.length]).toEqual([W, H, W * H]);
    const bmp = await decodeGrey(await encodeImage('bmp'), 'bmp');
    expect([...bmp.data]).toEqual([...greyPattern(W, H)]);
  });

  it('accepts a 3-channel image with R = G = B (like the ISBI JPEGs), converts near-grey ones with luma, rejects colour', async () => {
    const g = greyPattern(W, H);
    const rgb = new Uint8Array(W * H * 3).map((_, i) => g[Math.floor(i / 3)] as number);
    const encode = async (): Promise<Uint8Array> => new Uint8Array(await sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: 3 } }).png().toBuffer());
    const exact = await decodeGrey(await encode(), 'png');
    expect([...exact.data]).toEqual([...g]);
    expect(exact.colourPixels).toBe(0);
    // One coloured pixel (like the border strip of ISBI 300.jpg): Pillow's L = (19595·R + 38470·G + 7471·B + 32768) >> 16.
    rgb.set([255, 0, 10], 3 * 7);
    const near = await decodeGrey(await encode(), 'png');
    expect(near.data[7]).toBe((255 * 19595 + 0 * 38470 + 10 * 7471 + 0x8000) >> 16);
    expect([near.colourPixels, near.maxChannelDiff]).toEqual([1, 255]);
    expect([...near.data].filter((v, i) => v !== g[i])).toHaveLength(1);
    for (let p = 0; p < 40; p++) rgb.set([200, 10, 10], 3 * p);
    await expect(decodeGrey(await encode(), 'png')).rejects.toThrow('not greyscale: 40 of 2000 pixels (2.0 %) have R, G, B not all equal (limit 1 %)');
  });

  it('rejects transparent pixels but accepts a fully opaque alpha channel', async () => {
    const g = greyPattern(W, H);
    const la = new Uint8Array(W * H * 2).map((_, i) => (i % 2 === 0 ? (g[i / 2] as number) : 255));
    const opaque = new Uint8Array(await sharp(Buffer.from(la), { raw: { width: W, height: H, channels: 2 } }).png().toBuffer());
    expect([...(await decodeGrey(opaque, 'png')).data]).toEqual([...g]);
    la[2 * 5 + 1] = 0;
    const transparent = new Uint8Array(await sharp(Buffer.from(la), { raw: { width: W, height: H, channels: 2 } }).png().toBuffer());
    await expect(decodeGrey(transparent, 'png')).rejects.toThrow(/transparent pixel at \(5, 0\)/);
  });

  it('rejects 0-byte, wrong magic and extension/content mismatch', async () => {
    await expect(decodeGrey(new Uint8Array(), 'jpeg')).rejects.toThrow('empty image file (0 bytes)');
    await expect(decodeGrey(new TextEncoder().encode('hello, not an image'), 'jpeg')).rejects.toThrow(/wrong magic bytes/);
    await expect(decodeGrey(await encodeImage('png'), 'jpeg')).rejects.toThrow('content is PNG but the extension says JPEG');
    expect(sniffFormat(await encodeImage('bmp'))).toBe('bmp');
  });

  it('rejects truncated JPEG and PNG (failOn error)', async () => {
    const jpg = await encodeImage('jpg');
    await expect(decodeGrey(jpg.subarray(0, Math.floor(jpg.length * 0.6)), 'jpeg')).rejects.toThrow(/corrupt|truncated/);
    const png = await encodeImage('png');
    await expect(decodeGrey(png.subarray(0, Math.floor(png.length * 0.6)), 'png')).rejects.toThrow(/corrupt|truncated/);
  });

  it('rejects 16-bit PNG explicitly (no silent 16→8-bit windowing)', async () => {
    await expect(decodeGrey(await png16(), 'png')).rejects.toThrow('16-bit image not supported: convert it to 8-bit first');
  });

  it('rejects an EXIF-rotated image (annotations would be ambiguous)', async () => {
    const g = greyPattern(W, H);
    const rotated = new Uint8Array(
      await sharp(Buffer.from(g), { raw: { width: W, height: H, channels: 1 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
    );
    await expect(decodeGrey(rotated, 'jpeg')).rejects.toThrow(/EXIF orientation 6 not supported/);
  });

  it('rejects decompression bombs from the header, before decoding (B2)', async () => {
    const started = process.memoryUsage().rss;
    await expect(decodeGrey(await forgedPng(14000, 14000), 'png')).rejects.toThrow(/image too large: 14000x14000|pixel limit|exceeds/);
    await expect(decodeGrey(await forgedJpeg(60000, 60000), 'jpeg')).rejects.toThrow(/image too large: 60000x60000|pixel limit|exceeds/);
    expect(process.memoryUsage().rss - started).toBeLessThan(200 * 1024 * 1024);
  });
});
