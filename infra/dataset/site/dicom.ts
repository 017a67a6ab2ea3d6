/**
 * DICOM (Part 10, single-frame greyscale) → 8-bit grey, through dicom-parser (parsing) and
 * jpeg-lossless-decoder-js (JPEG lossless); baseline JPEG frames go through the ingester's sharp
 * decoder. Every refusal is one FileProblem naming the file and the tag.
 *
 * Supported transfer syntaxes: implicit/explicit VR little endian, explicit VR big endian, JPEG
 * baseline (1.2.840.10008.1.2.4.50), JPEG lossless process 14 (…4.57) and its selection-1 form
 * (…4.70). Anything else is refused with its UID.
 *
 * Pixel pipeline: stored values (BitsStored bits, sign-extended when PixelRepresentation = 1) →
 * RescaleSlope/RescaleIntercept → the grey rule of ./depth (first WindowCenter/WindowWidth if
 * present; else identity for 8-bit data without rescale; else min-max) → MONOCHROME1 inverted.
 * VOI LUT sequences are not applied.
 *
 * Spacing: PixelSpacing (0028,0030), else ImagerPixelSpacing (0018,1164); which one is recorded.
 * Non-square pixels are refused (a landmark error in mm needs one spacing).
 *
 * Also refused: a preamble that is an executable header ("MZ" or ELF: a DICOM/PE polyglot), more
 * than one frame, SamplesPerPixel ≠ 1, photometric other than MONOCHROME1/2, and images over the
 * pixel cap (checked on Rows/Columns and on the compressed stream's own frame header).
 */
import { createRequire } from 'node:module';
import type * as DicomParser from 'dicom-parser';
import type { DataSet } from 'dicom-parser';
import { decodeGrey } from '../decode-image';
import { MAX_INPUT_PIXELS, type GreyImage8 } from '../types';
import { describeGreyRule, toGrey8, type GreyRule } from './depth';
import { hasDicomMagic } from './raster';
import { FileProblem, withFile, type Spacing } from './types';

const require = createRequire(import.meta.url);
const dicomParser = require('dicom-parser') as typeof DicomParser;
interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes?: number): Uint8Array | Uint16Array;
}
const { Decoder: LosslessJpegDecoder } = require('jpeg-lossless-decoder-js') as { Decoder: new () => LosslessDecoder };

export const TRANSFER_SYNTAXES = {
  '1.2.840.10008.1.2': 'implicit VR little endian',
  '1.2.840.10008.1.2.1': 'explicit VR little endian',
  '1.2.840.10008.1.2.2': 'explicit VR big endian',
  '1.2.840.10008.1.2.4.50': 'JPEG baseline',
  '1.2.840.10008.1.2.4.57': 'JPEG lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG lossless SV1',
} as const;
type TransferSyntax = keyof typeof TRANSFER_SYNTAXES;
const BIG_ENDIAN = '1.2.840.10008.1.2.2';
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';

/** dicom-parser key and the name used in messages. */
const TAG = {
  transferSyntax: ['x00020010', '(0002,0010) TransferSyntaxUID'],
  samplesPerPixel: ['x00280002', '(0028,0002) SamplesPerPixel'],
  photometric: ['x00280004', '(0028,0004) PhotometricInterpretation'],
  frames: ['x00280008', '(0028,0008) NumberOfFrames'],
  rows: ['x00280010', '(0028,0010) Rows'],
  columns: ['x00280011', '(0028,0011) Columns'],
  pixelSpacing: ['x00280030', '(0028,0030) PixelSpacing'],
  imagerPixelSpacing: ['x00181164', '(0018,1164) ImagerPixelSpacing'],
  bitsAllocated: ['x00280100', '(0028,0100) BitsAllocated'],
  bitsStored: ['x00280101', '(0028,0101) BitsStored'],
  pixelRepresentation: ['x00280103', '(0028,0103) PixelRepresentation'],
  windowCenter: ['x00281050', '(0028,1050) WindowCenter'],
  windowWidth: ['x00281051', '(0028,1051) WindowWidth'],
  rescaleIntercept: ['x00281052', '(0028,1052) RescaleIntercept'],
  rescaleSlope: ['x00281053', '(0028,1053) RescaleSlope'],
  pixelData: ['x7fe00010', '(7FE0,0010) PixelData'],
} as const satisfies Record<string, readonly [string, string]>;

export type Photometric = 'MONOCHROME1' | 'MONOCHROME2';

export interface DicomHeader {
  width: number;
  height: number;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  signed: boolean;
  photometric: Photometric;
  transferSyntax: TransferSyntax;
  spacing?: Spacing;
  rescale: { slope: number; intercept: number };
  window?: { center: number; width: number };
}

export interface DecodedDicom extends GreyImage8 {
  spacing?: Spacing;
  bitsStored: number;
  photometric: Photometric;
  transferSyntax: string;
  /** The grey rule applied (./depth), for provenance. */
  greyRule: string;
}

/** Header checks only (no pixel decoding): what a folder scan needs for sizes and spacing. */
export function probeDicom(bytes: Uint8Array, file: string, maxPixels = MAX_INPUT_PIXELS): DicomHeader {
  return readHeader(bytes, file, maxPixels).header;
}

export async function decodeDicom(bytes: Uint8Array, file: string, maxPixels = MAX_INPUT_PIXELS): Promise<DecodedDicom> {
  const { header, dataSet } = readHeader(bytes, file, maxPixels);
  const stored = await storedValues(bytes, dataSet, header, file, maxPixels);
  const { slope, intercept } = header.rescale;
  const values = slope === 1 && intercept === 0 ? stored : Float32Array.from(stored, (v) => v * slope + intercept);
  const rule: GreyRule =
    header.window !== undefined
      ? { kind: 'window', ...header.window }
      : header.bitsStored <= 8 && slope === 1 && intercept === 0
        ? { kind: 'identity' }
        : { kind: 'min-max' };
  const invert = header.photometric === 'MONOCHROME1';
  return {
    width: header.width,
    height: header.height,
    data: toGrey8(values, rule, invert),
    ...(header.spacing !== undefined ? { spacing: header.spacing } : {}),
    bitsStored: header.bitsStored,
    photometric: header.photometric,
    transferSyntax: header.transferSyntax,
    greyRule: describeGreyRule(rule, invert),
  };
}

function readHeader(bytes: Uint8Array, file: string, maxPixels: number): { header: DicomHeader; dataSet: DataSet } {
  const fail: (problem: string) => never = (problem) => {
    throw new FileProblem(file, problem);
  };
  if (!hasDicomMagic(bytes)) fail('not a DICOM Part 10 file (no "DICM" after the 128-byte preamble)');
  const executable = executableHeader(bytes);
  if (executable !== undefined) fail(`the 128-byte preamble is ${executable} header (a DICOM/executable polyglot): refused`);

  let transferSyntax: string | undefined;
  try {
    transferSyntax = dicomParser.readPart10Header(bytes).string(TAG.transferSyntax[0]);
  } catch (err) {
    fail(`unreadable DICOM file meta information (${parserMessage(err)})`);
  }
  if (transferSyntax === undefined || transferSyntax === '') fail(`${TAG.transferSyntax[1]} missing`);
  if (!(transferSyntax in TRANSFER_SYNTAXES)) {
    fail(`unsupported transfer syntax ${TAG.transferSyntax[1]} = ${transferSyntax} (supported: ${Object.keys(TRANSFER_SYNTAXES).join(', ')})`);
  }
  let dataSet!: DataSet;
  try {
    dataSet = dicomParser.parseDicom(bytes);
  } catch (err) {
    fail(`corrupt or truncated DICOM (${parserMessage(err)})`);
  }

  const [pixelKey, pixelName] = TAG.pixelData;
  if (dataSet.elements[pixelKey] === undefined) fail(`no pixel data: ${pixelName} missing`);
  const frames = dataSet.intString(TAG.frames[0]);
  if (frames !== undefined && frames > 1) fail(`multi-frame image: ${TAG.frames[1]} = ${frames} (one frame per file only)`);
  const samples = dataSet.uint16(TAG.samplesPerPixel[0]);
  if (samples !== 1) fail(`${TAG.samplesPerPixel[1]} = ${samples ?? 'missing'}: greyscale (1 sample) only`);
  const photometric = dataSet.string(TAG.photometric[0]);
  if (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2') fail(`${TAG.photometric[1]} = ${photometric ?? 'missing'}: MONOCHROME1 or MONOCHROME2 only`);
  const height = dataSet.uint16(TAG.rows[0]) ?? 0;
  const width = dataSet.uint16(TAG.columns[0]) ?? 0;
  if (height <= 0) fail(`${TAG.rows[1]} missing or 0`);
  if (width <= 0) fail(`${TAG.columns[1]} missing or 0`);
  if (width * height > maxPixels) fail(`image too large: ${TAG.columns[1]} × ${TAG.rows[1]} = ${width}x${height} exceeds the limit of ${maxPixels} pixels`);
  const bitsAllocated = dataSet.uint16(TAG.bitsAllocated[0]);
  if (bitsAllocated !== 8 && bitsAllocated !== 16) fail(`${TAG.bitsAllocated[1]} = ${bitsAllocated ?? 'missing'}: 8 or 16 only`);
  const bitsStored = dataSet.uint16(TAG.bitsStored[0]) ?? bitsAllocated;
  if (bitsStored < 1 || bitsStored > bitsAllocated) fail(`${TAG.bitsStored[1]} = ${bitsStored} does not fit ${TAG.bitsAllocated[1]} = ${bitsAllocated}`);
  const representation = dataSet.uint16(TAG.pixelRepresentation[0]) ?? 0;
  if (representation !== 0 && representation !== 1) fail(`${TAG.pixelRepresentation[1]} = ${representation}: 0 or 1 only`);
  if (transferSyntax === JPEG_BASELINE && bitsAllocated !== 8) fail(`JPEG baseline with ${TAG.bitsAllocated[1]} = ${bitsAllocated}: 8 expected`);

  const slope = dataSet.floatString(TAG.rescaleSlope[0]) ?? 1;
  const intercept = dataSet.floatString(TAG.rescaleIntercept[0]) ?? 0;
  if (!Number.isFinite(slope) || slope === 0) fail(`${TAG.rescaleSlope[1]} = ${dataSet.string(TAG.rescaleSlope[0])}: not a non-zero number`);
  if (!Number.isFinite(intercept)) fail(`${TAG.rescaleIntercept[1]} = ${dataSet.string(TAG.rescaleIntercept[0])}: not a number`);

  const header: DicomHeader = {
    width,
    height,
    bitsAllocated: bitsAllocated,
    bitsStored,
    signed: representation === 1,
    photometric: photometric,
    transferSyntax: transferSyntax as TransferSyntax,
    rescale: { slope, intercept },
  };
  const window = readWindow(dataSet, fail);
  if (window !== undefined) header.window = window;
  const spacing = readSpacing(dataSet, fail);
  if (spacing !== undefined) header.spacing = spacing;
  return { header, dataSet };
}

function readWindow(dataSet: DataSet, fail: (problem: string) => never): { center: number; width: number } | undefined {
  const hasCenter = dataSet.elements[TAG.windowCenter[0]] !== undefined;
  const hasWidth = dataSet.elements[TAG.windowWidth[0]] !== undefined;
  if (!hasCenter && !hasWidth) return undefined;
  if (hasCenter !== hasWidth) fail(`${hasCenter ? TAG.windowCenter[1] : TAG.windowWidth[1]} without ${hasCenter ? TAG.windowWidth[1] : TAG.windowCenter[1]}`);
  const center = dataSet.floatString(TAG.windowCenter[0], 0);
  const width = dataSet.floatString(TAG.windowWidth[0], 0);
  if (center === undefined || !Number.isFinite(center)) fail(`${TAG.windowCenter[1]} = ${dataSet.string(TAG.windowCenter[0])}: not a number`);
  if (width === undefined || !Number.isFinite(width) || width < 1) fail(`${TAG.windowWidth[1]} = ${dataSet.string(TAG.windowWidth[0])}: not a number >= 1`);
  return { center: center, width: width };
}

function readSpacing(dataSet: DataSet, fail: (problem: string) => never): Spacing | undefined {
  for (const [[key, name], source] of [
    [TAG.pixelSpacing, 'dicom-PixelSpacing'],
    [TAG.imagerPixelSpacing, 'dicom-ImagerPixelSpacing'],
  ] as const) {
    if (dataSet.elements[key] === undefined) continue;
    const raw = dataSet.string(key);
    const row = dataSet.floatString(key, 0);
    const col = dataSet.floatString(key, 1);
    if (row === undefined || col === undefined || !(row > 0) || !(col > 0) || !Number.isFinite(row) || !Number.isFinite(col)) {
      fail(`${name} = ${JSON.stringify(raw)}: expected two positive numbers "row\\column" in mm`);
    }
    if (Math.abs(row - col) > 1e-6 * Math.max(row, col)) fail(`non-square pixels: ${name} = ${raw} (row and column spacing differ)`);
    return { mm: row, source };
  }
  return undefined;
}

async function storedValues(bytes: Uint8Array, dataSet: DataSet, h: DicomHeader, file: string, maxPixels: number): Promise<ArrayLike<number>> {
  const element = dataSet.elements[TAG.pixelData[0]]!;
  const n = h.width * h.height;
  const compressed = h.transferSyntax.startsWith('1.2.840.10008.1.2.4.');
  if (compressed !== (element.encapsulatedPixelData === true)) {
    throw new FileProblem(file, `${TAG.pixelData[1]} is ${compressed ? 'not ' : ''}encapsulated, which contradicts ${TAG.transferSyntax[1]} = ${h.transferSyntax}`);
  }
  if (!compressed) {
    const need = n * (h.bitsAllocated / 8);
    if (element.length < need) throw new FileProblem(file, `${TAG.pixelData[1]} holds ${element.length} bytes; ${h.width}x${h.height} at ${h.bitsAllocated} bits needs ${need}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset + element.dataOffset, need);
    const little = h.transferSyntax !== BIG_ENDIAN;
    const raw = h.bitsAllocated === 8 ? new Uint8Array(view.buffer, view.byteOffset, n) : Uint16Array.from({ length: n }, (_, i) => view.getUint16(2 * i, little));
    return storedBits(raw, h);
  }
  let frame: Uint8Array;
  try {
    frame = new Uint8Array(dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, element, 0, element.fragments?.length ?? 0));
  } catch (err) {
    throw new FileProblem(file, `${TAG.pixelData[1]}: corrupt encapsulated fragments (${parserMessage(err)})`);
  }
  const sof = jpegFrameHeader(frame);
  if (sof === undefined) throw new FileProblem(file, `${TAG.pixelData[1]}: no JPEG frame header in the compressed data`);
  if (sof.width !== h.width || sof.height !== h.height) {
    throw new FileProblem(file, `${TAG.pixelData[1]}: JPEG frame is ${sof.width}x${sof.height} but ${TAG.columns[1]} × ${TAG.rows[1]} say ${h.width}x${h.height}`);
  }
  if (sof.components !== 1) throw new FileProblem(file, `${TAG.pixelData[1]}: JPEG frame has ${sof.components} components, 1 expected`);
  if (h.transferSyntax === JPEG_BASELINE) {
    try {
      return (await decodeGrey(frame, 'jpeg', maxPixels)).data;
    } catch (err) {
      throw withFile(file, err);
    }
  }
  let decoded: Uint8Array | Uint16Array;
  try {
    decoded = new LosslessJpegDecoder().decode(frame.buffer as ArrayBuffer, frame.byteOffset, frame.byteLength);
  } catch (err) {
    throw new FileProblem(file, `${TAG.pixelData[1]}: corrupt JPEG lossless data (${parserMessage(err)})`);
  }
  if (decoded.length !== n) throw new FileProblem(file, `${TAG.pixelData[1]}: JPEG lossless data decoded to ${decoded.length} samples, ${n} expected`);
  return storedBits(decoded, h);
}

/** Keeps the BitsStored low bits and sign-extends them when PixelRepresentation = 1. */
function storedBits(raw: Uint8Array | Uint16Array, h: DicomHeader): ArrayLike<number> {
  if (h.bitsStored === h.bitsAllocated && !h.signed) return raw;
  const mask = (1 << h.bitsStored) - 1;
  const sign = 1 << (h.bitsStored - 1);
  return Int32Array.from(raw, (v) => {
    const s = v & mask;
    return h.signed && s & sign ? s - (mask + 1) : s;
  });
}

/** Size and components from the first SOFn marker of a JPEG stream, without decoding it. */
export function jpegFrameHeader(b: Uint8Array): { width: number; height: number; components: number; precision: number } | undefined {
  if (b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  for (let i = 2; i + 9 < b.length; ) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1] as number;
    if (marker === 0xff) {
      i++;
      continue;
    }
    const length = ((b[i + 2] as number) << 8) | (b[i + 3] as number);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return {
        precision: b[i + 4] as number,
        height: ((b[i + 5] as number) << 8) | (b[i + 6] as number),
        width: ((b[i + 7] as number) << 8) | (b[i + 8] as number),
        components: b[i + 9] as number,
      };
    }
    i += 2 + length;
  }
  return undefined;
}

/** "MZ" (DOS/PE) and ELF preambles make the file an executable as well as a DICOM. */
function executableHeader(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0x4d && bytes[1] === 0x5a) return 'a Windows/DOS executable ("MZ")';
  if (bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) return 'an ELF executable';
  return undefined;
}

/** dicom-parser throws strings, Errors or `{ exception }` objects. */
function parserMessage(err: unknown): string {
  if (typeof err === 'string') return err.slice(0, 200);
  if (err instanceof Error) return err.message.slice(0, 200);
  const inner = (err as { exception?: unknown })?.exception;
  return inner !== undefined ? parserMessage(inner) : String(err).slice(0, 200);
}
