/**
 * DICOM Part 10 fixtures written with dcmjs (an independent writer, so the reader is not checked
 * against itself). Native pixel data from `samples`; encapsulated data from `frame` (one JPEG
 * stream in one fragment).
 */
import { createRequire } from 'node:module';

interface DcmjsData {
  DicomMetaDictionary: { denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown> };
  DicomDict: new (meta: Record<string, unknown>) => { dict: Record<string, unknown>; write(): ArrayBuffer };
}
const require = createRequire(import.meta.url);
const { DicomMetaDictionary, DicomDict } = (require('dcmjs') as { data: DcmjsData }).data;

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  explicitBE: '1.2.840.10008.1.2.2',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegLossless: '1.2.840.10008.1.2.4.70',
  jpeg2000: '1.2.840.10008.1.2.4.90',
} as const;

export interface DicomFixture {
  width: number;
  height: number;
  /** Stored values, row-major (native transfer syntaxes). */
  samples?: ArrayLike<number>;
  /** One compressed frame (encapsulated transfer syntaxes). */
  frame?: Uint8Array;
  transferSyntax?: string;
  bitsAllocated?: 8 | 16;
  bitsStored?: number;
  signed?: boolean;
  photometric?: string;
  samplesPerPixel?: number;
  frames?: number;
  pixelSpacing?: number[];
  imagerPixelSpacing?: number[];
  window?: { center: number; width: number };
  rescale?: { slope: number; intercept: number };
  omitPixelData?: boolean;
  /** Bytes written at the start of the 128-byte preamble. */
  preamble?: Uint8Array;
  /** More data-set elements by dcmjs keyword (e.g. PatientName). */
  tags?: Record<string, unknown>;
}

export function buildDicom(f: DicomFixture): Uint8Array {
  const transferSyntax = f.transferSyntax ?? TS.explicitLE;
  const bitsAllocated = f.bitsAllocated ?? 16;
  const sop = '1.2.826.0.1.3680043.8.498.1';
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.1.1',
    MediaStorageSOPInstanceUID: sop,
    TransferSyntaxUID: transferSyntax,
    ImplementationClassUID: '1.2.826.0.1.3680043.8.498.2',
  };
  const ds: Record<string, unknown> = {
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.1.1',
    SOPInstanceUID: sop,
    Modality: 'DX',
    Rows: f.height,
    Columns: f.width,
    BitsAllocated: bitsAllocated,
    BitsStored: f.bitsStored ?? bitsAllocated,
    HighBit: (f.bitsStored ?? bitsAllocated) - 1,
    PixelRepresentation: f.signed === true ? 1 : 0,
    SamplesPerPixel: f.samplesPerPixel ?? 1,
    PhotometricInterpretation: f.photometric ?? 'MONOCHROME2',
    _vrMap: { PixelData: f.frame !== undefined || bitsAllocated === 8 ? 'OB' : 'OW' },
  };
  if (f.frames !== undefined) ds.NumberOfFrames = f.frames;
  if (f.pixelSpacing !== undefined) ds.PixelSpacing = f.pixelSpacing;
  if (f.imagerPixelSpacing !== undefined) ds.ImagerPixelSpacing = f.imagerPixelSpacing;
  if (f.window !== undefined) Object.assign(ds, { WindowCenter: f.window.center, WindowWidth: f.window.width });
  if (f.rescale !== undefined) Object.assign(ds, { RescaleSlope: f.rescale.slope, RescaleIntercept: f.rescale.intercept });
  if (f.tags !== undefined) Object.assign(ds, f.tags);
  if (f.omitPixelData !== true) ds.PixelData = [f.frame !== undefined ? f.frame.slice().buffer : nativePixels(f, bitsAllocated)];
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(ds);
  const bytes = new Uint8Array(dict.write());
  if (f.preamble !== undefined) bytes.set(f.preamble.subarray(0, 128), 0);
  return bytes;
}

function nativePixels(f: DicomFixture, bitsAllocated: 8 | 16): ArrayBuffer {
  const n = f.width * f.height * (f.frames ?? 1);
  const samples = f.samples ?? new Array<number>(n).fill(0);
  if (bitsAllocated === 8) return Uint8Array.from({ length: n }, (_, i) => samples[i % samples.length] as number).buffer;
  const view = new DataView(new ArrayBuffer(2 * n));
  const little = f.transferSyntax !== TS.explicitBE;
  for (let i = 0; i < n; i++) view.setUint16(2 * i, (samples[i % samples.length] as number) & 0xffff, little);
  return view.buffer;
}
