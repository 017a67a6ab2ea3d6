/**
 * FNV-1a (32-bit) over numbers and float bits: a cheap fingerprint of training data, stored in
 * checkpoints so that a resume with other data is refused. Not a cryptographic hash.
 */
import type { GrayImage } from '../types';

export class Fnv1a {
  private h = 0x811c9dc5;

  /** One 32-bit word (integers are taken modulo 2^32). */
  word(v: number): this {
    this.h = Math.imul(this.h ^ (v >>> 0), 0x01000193) >>> 0;
    return this;
  }

  /** The float32 bits of `v`. */
  float(v: number): this {
    F32[0] = v;
    return this.word(U32[0]!);
  }

  /** The float32 bits of every value. */
  floats(data: Float32Array): this {
    const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
    let h = this.h;
    for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x01000193) >>> 0;
    this.h = h;
    return this;
  }

  /** A label mask's entries, row by row, as 1 / 0 words (nothing without a mask). */
  labelMask(mask: readonly (readonly boolean[])[] | undefined): this {
    for (const row of mask ?? []) for (const use of row) this.word(use ? 1 : 0);
    return this;
  }

  /** Height, width, then the pixels. */
  image(img: GrayImage): this {
    return this.word(img.height).word(img.width).floats(img.data);
  }

  /** `${count}:${8 hex digits}`, the form stored in checkpoints. */
  digest(count: number): string {
    return `${count}:${this.h.toString(16).padStart(8, '0')}`;
  }
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
