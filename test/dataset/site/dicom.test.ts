import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { decodeDicom, probeDicom } from '../../../infra/dataset/site/dicom';
import { FileProblem } from '../../../infra/dataset/site/types';
import { buildDicom, TS, type DicomFixture } from './support/dicom-fixture';
import { encodeJpegLossless } from './support/jpeg-lossless';

const W = 6;
const H = 4;
/** 16-bit ramp 0, 1000, …, 23000. */
const RAMP = Array.from({ length: W * H }, (_, i) => i * 1000);
const FILE = 'images/a.dcm';

function dicom(extra: Partial<DicomFixture> = {}): Uint8Array {
  return buildDicom({ width: W, height: H, samples: RAMP, pixelSpacing: [0.125, 0.125], ...extra });
}

async function refusal(bytes: Uint8Array): Promise<FileProblem> {
  const err = await decodeDicom(bytes, FILE).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FileProblem);
  expect((err as FileProblem).file).toBe(FILE);
  expect((err as FileProblem).message.startsWith(`${FILE}: `)).toBe(true);
  return err as FileProblem;
}

const minMax = (values: number[]): number[] => {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return values.map((v) => Math.round(((v - lo) * 255) / (hi - lo)));
};

describe('decodeDicom', () => {
  it('decodes 16-bit explicit VR little endian with PixelSpacing 0.125 mm by min-max', async () => {
    const d = await decodeDicom(dicom(), FILE);
    expect([d.width, d.height, d.bitsStored, d.photometric]).toEqual([W, H, 16, 'MONOCHROME2']);
    expect(d.spacing).toEqual({ mm: 0.125, source: 'dicom-PixelSpacing' });
    expect([...d.data]).toEqual(minMax(RAMP));
    expect(d.greyRule).toBe('min-max of the stored values');
    expect(probeDicom(dicom(), FILE)).toMatchObject({ width: W, height: H, spacing: { mm: 0.125 } });
  });

  it('inverts MONOCHROME1 after the grey rule', async () => {
    const d = await decodeDicom(dicom({ photometric: 'MONOCHROME1' }), FILE);
    expect([...d.data]).toEqual(minMax(RAMP).map((v) => 255 - v));
    expect(d.photometric).toBe('MONOCHROME1');
  });

  it('applies rescale, then the first window', async () => {
    // Rescaled values 2·v − 1000; window centre 20000, width 10001 → low 15000, high 25000.
    const d = await decodeDicom(dicom({ rescale: { slope: 2, intercept: -1000 }, window: { center: 20000.5, width: 10001 } }), FILE);
    const expected = RAMP.map((v) => 2 * v - 1000).map((v) => (v <= 15000 ? 0 : v > 25000 ? 255 : Math.round(((v - 20000) / 10000 + 0.5) * 255)));
    expect([...d.data]).toEqual(expected);
    expect(d.greyRule).toBe('window center 20000.5 width 10001');
  });

  it('keeps 8-bit values without a window, sign-extends signed 12-bit data', async () => {
    const eight = await decodeDicom(dicom({ bitsAllocated: 8, samples: RAMP.map((v) => v % 256) }), FILE);
    expect([...eight.data]).toEqual(RAMP.map((v) => v % 256));
    const signed = [-2048, -1, 0, 2047];
    const d = await decodeDicom(buildDicom({ width: 4, height: 1, samples: signed, bitsStored: 12, signed: true, pixelSpacing: [0.1, 0.1] }), FILE);
    expect([...d.data]).toEqual(minMax(signed));
  });

  it('reads implicit VR and big endian, and ImagerPixelSpacing when PixelSpacing is absent', async () => {
    for (const transferSyntax of [TS.implicitLE, TS.explicitBE]) {
      const d = await decodeDicom(dicom({ transferSyntax, pixelSpacing: undefined, imagerPixelSpacing: [0.15, 0.15] }), FILE);
      expect([...d.data]).toEqual(minMax(RAMP));
      expect(d.spacing).toEqual({ mm: 0.15, source: 'dicom-ImagerPixelSpacing' });
    }
    const none = await decodeDicom(dicom({ pixelSpacing: undefined }), FILE);
    expect(none.spacing).toBeUndefined();
  });

  it('decodes JPEG lossless (16-bit, process 14) exactly', async () => {
    const samples = Array.from({ length: 33 * 17 }, (_, i) => (i * 7919) % 60000);
    const bytes = buildDicom({ width: 33, height: 17, frame: encodeJpegLossless(samples, 33, 17, 16), transferSyntax: TS.jpegLossless, pixelSpacing: [0.125, 0.125], photometric: 'MONOCHROME1' });
    const d = await decodeDicom(bytes, FILE);
    expect([...d.data]).toEqual(minMax(samples).map((v) => 255 - v));
    expect(d.transferSyntax).toBe(TS.jpegLossless);
  });

  it('decodes JPEG baseline through sharp', async () => {
    const grey = Uint8Array.from({ length: 32 * 16 }, (_, i) => (i % 32) * 8);
    const jpeg = new Uint8Array(await sharp(Buffer.from(grey), { raw: { width: 32, height: 16, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 100 }).toBuffer());
    const d = await decodeDicom(buildDicom({ width: 32, height: 16, frame: jpeg, transferSyntax: TS.jpegBaseline, bitsAllocated: 8, pixelSpacing: [0.2, 0.2] }), FILE);
    expect(d.data.length).toBe(32 * 16);
    const maxError = Math.max(...[...d.data].map((v, i) => Math.abs(v - (grey[i] as number))));
    expect(maxError).toBeLessThan(8);
  });

  it('refuses bad files with one problem naming the file and the tag', async () => {
    expect((await refusal(dicom({ omitPixelData: true }))).problem).toContain('(7FE0,0010) PixelData');
    const ts = await refusal(buildDicom({ width: W, height: H, frame: new Uint8Array([0xff, 0x4f, 0xff, 0xd9]), transferSyntax: TS.jpeg2000 }));
    expect(ts.problem).toContain('(0002,0010) TransferSyntaxUID');
    expect(ts.problem).toContain(TS.jpeg2000);
    expect((await refusal(dicom({ frames: 2 }))).problem).toContain('(0028,0008) NumberOfFrames = 2');
    expect((await refusal(dicom({ samplesPerPixel: 3 }))).problem).toContain('(0028,0002) SamplesPerPixel = 3');
    expect((await refusal(dicom({ photometric: 'PALETTE COLOR' }))).problem).toContain('(0028,0004) PhotometricInterpretation');
    const nonSquare = await refusal(dicom({ pixelSpacing: [0.1, 0.2] }));
    expect(nonSquare.problem).toContain('non-square pixels');
    expect(nonSquare.problem).toContain('(0028,0030) PixelSpacing');
    expect((await refusal(dicom({ pixelSpacing: undefined, imagerPixelSpacing: [0.1, 0.3] }))).problem).toContain('(0018,1164) ImagerPixelSpacing');
    expect((await refusal(dicom({ bitsAllocated: 16, samples: [1], window: { center: 10, width: 0 } }))).problem).toContain('(0028,1051) WindowWidth');
  });

  it('refuses a DICOM/PE polyglot (executable header in the preamble) and non-DICOM bytes', async () => {
    const mz = new Uint8Array(128);
    mz.set([0x4d, 0x5a, 0x90, 0x00]);
    const polyglot = await refusal(dicom({ preamble: mz }));
    expect(polyglot.problem).toContain('polyglot');
    const elf = await refusal(dicom({ preamble: new Uint8Array([0x7f, 0x45, 0x4c, 0x46]) }));
    expect(elf.problem).toContain('ELF');
    expect((await refusal(new Uint8Array(200))).problem).toContain('DICM');
  });

  it('refuses truncated pixel data and a JPEG frame whose size contradicts Rows/Columns', async () => {
    const full = dicom();
    expect((await refusal(full.subarray(0, full.length - 10))).problem).toMatch(/PixelData|truncated/);
    const frame = encodeJpegLossless(RAMP, W, H, 16);
    const lie = await refusal(buildDicom({ width: W + 100, height: H, frame, transferSyntax: TS.jpegLossless, pixelSpacing: [0.1, 0.1] }));
    expect(lie.problem).toContain('(0028,0011) Columns');
  });
});
