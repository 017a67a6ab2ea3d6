import { describe, expect, it } from 'vitest';
import { decodeBmpGrey, parseBmpHeader } from '../../infra/dataset/bmp';
import { encodeBmp } from './support/bmp-encoder';
import { greyPattern } from './support/fixtures';

// Widths not divisible by 4 exercise the row padding.
const W = 7;
const H = 5;
const grey = greyPattern(W, H, 3);

describe('decodeBmpGrey (bmp-js behind a strict header check)', () => {
  it('decodes 8-bit palettised greyscale, bottom-up, as in the official ISBI release', () => {
    const img = decodeBmpGrey(encodeBmp({ width: W, height: H, grey, bitsPerPixel: 8 }));
    expect([img.width, img.height]).toEqual([W, H]);
    expect([...img.data]).toEqual([...grey]);
  });

  it('decodes a non-identity grey palette through the palette (index ≠ value)', () => {
    const palette = Array.from({ length: 256 }, (_, i): [number, number, number] => [255 - i, 255 - i, 255 - i]);
    const img = decodeBmpGrey(encodeBmp({ width: W, height: H, grey, palette }));
    expect([...img.data]).toEqual([...grey].map((v) => 255 - v));
  });

  it.each([
    ['24-bit', { bitsPerPixel: 24 as const }],
    ['32-bit', { bitsPerPixel: 32 as const }],
    ['top-down 8-bit', { topDown: true }],
    ['top-down 24-bit', { topDown: true, bitsPerPixel: 24 as const }],
    ['V5 header with a gap before the pixels (bmp-js alone ignores the offset)', { headerSize: 124 as const, gapBytes: 6 }],
    ['V4 header, 24-bit', { headerSize: 108 as const, bitsPerPixel: 24 as const }],
  ])('decodes %s', (_name, extra) => {
    const img = decodeBmpGrey(encodeBmp({ width: W, height: H, grey, ...extra }));
    expect([...img.data]).toEqual([...grey]);
  });

  it('rejects truncated, RLE, colour, out-of-palette and oversized BMPs with a clear message', () => {
    const ok = encodeBmp({ width: W, height: H, grey });
    expect(() => decodeBmpGrey(ok.subarray(0, ok.length - 3))).toThrow(/truncated BMP: pixel data needs \d+ bytes, file has \d+/);
    expect(() => decodeBmpGrey(ok.subarray(0, 30))).toThrow(/truncated BMP/);
    expect(() => decodeBmpGrey(encodeBmp({ width: W, height: H, grey, compression: 1 }))).toThrow(/unsupported BMP compression 1/);
    const colour = Array.from({ length: 256 }, (_, i): [number, number, number] => [i, 0, 0]);
    expect(() => decodeBmpGrey(encodeBmp({ width: W, height: H, grey, palette: colour }))).toThrow(/not greyscale: 35 of 35 pixels \(100.0 %\) have R, G, B not all equal/);
    const short = Array.from({ length: 4 }, (_, i): [number, number, number] => [i, i, i]);
    expect(() => decodeBmpGrey(encodeBmp({ width: W, height: H, grey, palette: short }))).toThrow(/palette index \d+ out of range/);
    expect(() => decodeBmpGrey(ok, 20)).toThrow(/image too large: 7x5 = 35 pixels exceeds the limit of 20/);
  });

  it('checks the pixel cap from the header before allocating (decompression bomb)', () => {
    const bomb = Buffer.from(encodeBmp({ width: W, height: H, grey }));
    bomb.writeInt32LE(100_000, 18);
    bomb.writeInt32LE(100_000, 22);
    expect(() => parseBmpHeader(bomb)).toThrow(/image too large: 100000x100000/);
  });
});
