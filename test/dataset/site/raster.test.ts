import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { toGrey8 } from '../../../infra/dataset/site/depth';
import { decodeRaster, probeRaster, sniffSiteFormat } from '../../../infra/dataset/site/raster';
import { FileProblem } from '../../../infra/dataset/site/types';
import { encodeImage, greyPattern } from '../support/fixtures';

const W = 30;
const H = 20;
const WIDE = Uint16Array.from({ length: W * H }, (_, i) => 1000 + i * 37);

async function wide(format: 'png' | 'tiff'): Promise<Uint8Array> {
  const s = sharp(WIDE, { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16');
  return new Uint8Array(await (format === 'png' ? s.png() : s.tiff({ compression: 'lzw' })).toBuffer());
}

describe('site raster images', () => {
  it('reduces 16-bit PNG and TIFF with the min-max rule shared with DICOM', async () => {
    const expected = [...toGrey8(WIDE, { kind: 'min-max' })];
    expect(expected[0]).toBe(0);
    expect(expected[W * H - 1]).toBe(255);
    for (const format of ['png', 'tiff'] as const) {
      const d = await decodeRaster(await wide(format), format, `images/a.${format}`);
      expect([d.width, d.height, d.bitsStored]).toEqual([W, H, 16]);
      expect([...d.data]).toEqual(expected);
    }
  });

  it('decodes 8-bit TIFF and keeps the ingester rules for PNG, JPEG and BMP', async () => {
    const grey = greyPattern(W, H);
    const tiff = new Uint8Array(await sharp(Buffer.from(grey), { raw: { width: W, height: H, channels: 1 } }).toColourspace('b-w').tiff({ compression: 'lzw' }).toBuffer());
    expect(sniffSiteFormat(tiff)).toBe('tiff');
    expect([...(await decodeRaster(tiff, 'tiff', 'images/t.tif')).data]).toEqual([...grey]);
    for (const [fixture, format] of [
      ['png', 'png'],
      ['bmp', 'bmp'],
      ['jpg', 'jpeg'],
    ] as const) {
      const bytes = await encodeImage(fixture, W, H);
      const d = await decodeRaster(bytes, format, `images/x.${fixture}`);
      expect([d.width, d.height, d.bitsStored]).toEqual([W, H, 8]);
      expect(await probeRaster(bytes, format, `images/x.${fixture}`)).toEqual({ width: W, height: H });
    }
  });

  it('names the file when the content disagrees with the extension or exceeds the pixel cap', async () => {
    const png = await encodeImage('png', W, H);
    await expect(decodeRaster(png, 'tiff', 'images/a.tif')).rejects.toThrow(/^images\/a\.tif: content is PNG but the extension says TIFF/);
    await expect(probeRaster(await wide('tiff'), 'tiff', 'images/big.tif', 100)).rejects.toBeInstanceOf(FileProblem);
    await expect(probeRaster(await wide('tiff'), 'tiff', 'images/big.tif', 100)).rejects.toThrow(/images\/big\.tif: image too large/);
  });

  it('refuses 16-bit colour', async () => {
    const rgb16 = Uint16Array.from({ length: W * H * 3 }, (_, i) => i);
    const bytes = new Uint8Array(await sharp(rgb16, { raw: { width: W, height: H, channels: 3 } }).toColourspace('rgb16').png().toBuffer());
    await expect(decodeRaster(bytes, 'png', 'images/c.png')).rejects.toThrow(/16-bit image with 3 channels/);
  });
});
