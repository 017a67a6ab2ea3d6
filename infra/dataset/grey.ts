/**
 * Interleaved 8-bit pixels → one grey channel, with Pillow's RGB→"L" luma
 * (L = (19595·R + 38470·G + 7471·B + 0x8000) >> 16, ITU-R 601), which is exact for R = G = B.
 *
 * The ISBI images are grey with R = G = B, but not all of them exactly: in the project copy,
 * Test1 image 300.jpg has 1243 pixels (0.03 %) with colour, all in its right-most 32 columns. So
 * near-grey images are converted (the caller records a warning), and images where more than
 * MAX_COLOUR_FRACTION of the pixels carry colour are rejected as "not a greyscale radiograph".
 * Alpha must be fully opaque.
 */
import { ImageProblem } from './bmp-problem';
import type { GreyImage8 } from './types';

export const MAX_COLOUR_FRACTION = 0.01;

export interface GreyConversion extends GreyImage8 {
  /** Pixels whose R, G, B differ (0 for a true greyscale image). */
  colourPixels: number;
  /** Largest |R−G|, |G−B|, |R−B| over the image. */
  maxChannelDiff: number;
}

export interface PixelLayout {
  channels: number;
  /** Offsets of R, G, B and alpha (-1: none) inside one pixel. */
  r: number;
  g: number;
  b: number;
  a: number;
}

export const LAYOUTS = {
  grey: { channels: 1, r: 0, g: 0, b: 0, a: -1 },
  greyAlpha: { channels: 2, r: 0, g: 0, b: 0, a: 1 },
  rgb: { channels: 3, r: 0, g: 1, b: 2, a: -1 },
  rgba: { channels: 4, r: 0, g: 1, b: 2, a: 3 },
  /** bmp-js output order. */
  abgr: { channels: 4, r: 3, g: 2, b: 1, a: -1 },
} as const satisfies Record<string, PixelLayout>;

export function toGrey(data: Uint8Array, width: number, height: number, layout: PixelLayout): GreyConversion {
  const n = width * height;
  if (data.length < n * layout.channels) throw new ImageProblem(`corrupt image: ${data.length} bytes of pixels for ${width}x${height}`);
  const grey = new Uint8Array(n);
  let colourPixels = 0;
  let maxChannelDiff = 0;
  for (let p = 0, q = 0; p < n; p++, q += layout.channels) {
    if (layout.a >= 0 && data[q + layout.a] !== 255) {
      throw new ImageProblem(`transparent pixel at (${p % width}, ${Math.floor(p / width)}): alpha must be fully opaque`);
    }
    const r = data[q + layout.r] as number;
    const g = data[q + layout.g] as number;
    const b = data[q + layout.b] as number;
    if (r === g && g === b) {
      grey[p] = r;
      continue;
    }
    colourPixels++;
    maxChannelDiff = Math.max(maxChannelDiff, Math.abs(r - g), Math.abs(g - b), Math.abs(r - b));
    grey[p] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
  }
  if (colourPixels > MAX_COLOUR_FRACTION * n) {
    throw new ImageProblem(
      `not greyscale: ${colourPixels} of ${n} pixels (${((100 * colourPixels) / n).toFixed(1)} %) have R, G, B not all equal (limit ${100 * MAX_COLOUR_FRACTION} %)`,
    );
  }
  return { width, height, data: grey, colourPixels, maxChannelDiff };
}

/** The warning text for a near-grey image, or undefined for a true greyscale one. */
export function colourNote(c: Pick<GreyConversion, 'colourPixels' | 'maxChannelDiff' | 'width' | 'height'>): string | undefined {
  if (c.colourPixels === 0) return undefined;
  const pct = (100 * c.colourPixels) / (c.width * c.height);
  return `${c.colourPixels} pixels (${pct.toFixed(2)} %) have colour (max channel difference ${c.maxChannelDiff}); converted to grey with ITU-R 601 luma as Pillow's convert('L')`;
}
