import { describe, expect, it } from 'vitest';
import { resizeBilinearAntialias } from '../../infra/dataset/resample';

// Reference outputs computed with Pillow 13.0.0: Image.frombytes('L', (13, 11), data).resize((w, h), Image.BILINEAR),
// data[y·13 + x] = (x·37 + y·91 + ((x·y) % 7)·13) % 256. Pillow is what torchvision's Resize runs on CC2D's images.
const W = 13;
const H = 11;
const input = new Uint8Array(W * H);
for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) input[y * W + x] = (x * 37 + y * 91 + ((x * y) % 7) * 13) % 256;

const PILLOW: Array<[number, number, number[]]> = [
  [5, 4, [117, 132, 134, 130, 131, 128, 126, 130, 130, 136, 126, 149, 114, 138, 153, 122, 132, 104, 127, 131]],
  [4, 7, [93, 135, 106, 133, 147, 132, 153, 131, 128, 126, 121, 141, 112, 140, 124, 135, 150, 135, 132, 160, 116, 129, 107, 145, 128, 108, 126, 113]],
  [13, 3, [85, 144, 128, 149, 104, 147, 153, 88, 147, 131, 152, 107, 150, 118, 123, 137, 120, 136, 169, 102, 121, 126, 140, 123, 139, 172, 123, 119, 123, 159, 143, 106, 73, 126, 122, 126, 162, 146, 109]],
  [26, 5, [
    74, 86, 109, 121, 120, 132, 155, 147, 108, 100, 123, 147, 171, 157, 104, 89, 112, 124, 123, 135, 158, 150, 111, 103, 126, 138,
    90, 108, 145, 158, 147, 138, 129, 126, 129, 139, 156, 151, 125, 107, 98, 111, 148, 161, 150, 141, 132, 129, 132, 142, 159, 167,
    127, 124, 117, 117, 124, 121, 106, 110, 133, 152, 168, 162, 133, 122, 127, 127, 120, 120, 127, 124, 109, 113, 136, 155, 171, 179,
    126, 122, 115, 121, 141, 161, 181, 173, 136, 122, 131, 114, 71, 69, 109, 125, 118, 124, 144, 164, 184, 176, 139, 125, 134, 139,
    117, 121, 130, 126, 110, 110, 125, 140, 153, 139, 100, 84, 93, 103, 114, 124, 133, 129, 113, 113, 128, 143, 156, 142, 103, 83,
  ]],
];

describe('resizeBilinearAntialias (Pillow BILINEAR, docs/method.md#trap-resize)', () => {
  it.each(PILLOW)('matches Pillow byte for byte at %i×%i (shrink, upscale, mixed)', (w, h, expected) => {
    const out = resizeBilinearAntialias({ width: W, height: H, data: input }, w, h);
    expect(out.width).toBe(w);
    expect(out.height).toBe(h);
    expect([...out.data]).toEqual(expected);
  });

  it('is the identity at the same size and keeps a constant image constant', () => {
    expect([...resizeBilinearAntialias({ width: W, height: H, data: input }, W, H).data]).toEqual([...input]);
    const flat = resizeBilinearAntialias({ width: 97, height: 61, data: new Uint8Array(97 * 61).fill(173) }, 16, 16);
    expect(new Set(flat.data)).toEqual(new Set([173]));
  });

  it('anti-aliases: a 1-pixel checkerboard shrunk 6.25× becomes flat grey, not a moiré', () => {
    const w = 250;
    const data = new Uint8Array(w * w);
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) data[y * w + x] = (x + y) % 2 === 0 ? 255 : 0;
    const out = resizeBilinearAntialias({ width: w, height: w, data }, 40, 40);
    const values = [...out.data];
    expect(Math.min(...values)).toBeGreaterThanOrEqual(120);
    expect(Math.max(...values)).toBeLessThanOrEqual(135);
  });
});
