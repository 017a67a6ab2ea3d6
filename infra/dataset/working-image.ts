/**
 * Working-resolution images: the whole image resized to S×S (aspect not kept, docs/method.md#preprocessing) with the
 * Pillow-compatible anti-aliased resampler of ./resample, stored as 8-bit greyscale PNG.
 *
 * Trap: sharp turns a 1-channel raw input into 3 channels on output unless told otherwise, so the
 * PNG is written with `toColourspace('b-w')` (colour type 0, 8 bits) and checked.
 */
import sharp from 'sharp';
import { resizeBilinearAntialias } from './resample';
import type { GreyImage8 } from './types';

export async function encodeGreyPng(image: GreyImage8): Promise<Uint8Array> {
  const input = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  const { data, info } = await sharp(input, { raw: { width: image.width, height: image.height, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 9, palette: false })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`PNG encoder produced ${info.channels} channels, expected 1`);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export async function makeWorkingPng(image: GreyImage8, size: number): Promise<Uint8Array> {
  return encodeGreyPng(resizeBilinearAntialias(image, size, size));
}

/** Decodes a working PNG back to grey (tests and readers). */
export async function decodeWorkingPng(bytes: Uint8Array): Promise<GreyImage8> {
  const { data, info } = await sharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    .toColourspace('b-w')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`expected a 1-channel PNG, got ${info.channels} channels`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
