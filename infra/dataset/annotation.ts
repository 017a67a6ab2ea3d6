/**
 * Parses one ISBI 2015 annotation file (docs/method.md#data-isbi): one landmark per line as `x,y` in original
 * pixels. Only the first LANDMARK_COUNT lines are read (the official files list challenge-2
 * class labels after them); of each line only the first whitespace-separated token is split on
 * the comma, as CC2D does. Coordinates must be non-negative decimal numbers ("835" or "835.5");
 * NaN, negatives, exponents, hex and empty fields are rejected. Bounds against the image size are
 * checked later, once the image is decoded.
 */
import { LANDMARK_COUNT, type PointXY } from './types';

/** Annotation files are a few hundred bytes; anything far larger is not one. */
export const MAX_ANNOTATION_BYTES = 1_000_000;

const NUMBER = /^\d{1,7}(?:\.\d{1,12})?$/;

export interface ParsedAnnotation {
  points: PointXY[];
  /** Problems without the file name; the caller prefixes it. Empty when `points` is complete. */
  problems: string[];
}

export function parseAnnotationBytes(bytes: Uint8Array, count = LANDMARK_COUNT): ParsedAnnotation {
  if (bytes.length === 0) return { points: [], problems: ['empty annotation file (0 bytes)'] };
  if (bytes.length > MAX_ANNOTATION_BYTES) return { points: [], problems: [`annotation file too large (${bytes.length} bytes)`] };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { points: [], problems: ['annotation file is not UTF-8 text'] };
  }
  return parseAnnotationText(text, count);
}

/** `count`: landmark lines to read (19 for ISBI; a site's template decides its own). */
export function parseAnnotationText(text: string, count = LANDMARK_COUNT): ParsedAnnotation {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const nonBlank = lines.filter((l) => l.trim() !== '').length;
  if (nonBlank < count) {
    return { points: [], problems: [`wrong landmark count: ${nonBlank} landmark line(s), expected ${count}`] };
  }
  const points: PointXY[] = [];
  const problems: string[] = [];
  for (let i = 0; i < count; i++) {
    const line = lines[i] ?? '';
    const token = line.trim().split(/\s+/)[0] ?? '';
    if (token === '') {
      problems.push(`line ${i + 1}: empty line among the first ${count} landmark lines`);
      continue;
    }
    const parts = token.split(',');
    if (parts.length !== 2) {
      problems.push(`line ${i + 1}: ${quote(token)} is not "x,y"`);
      continue;
    }
    const [xs, ys] = parts as [string, string];
    const bad = [xs, ys].filter((s) => !NUMBER.test(s));
    if (bad.length > 0) {
      const why = bad.some((s) => s.startsWith('-')) ? 'negative coordinate' : 'non-numeric coordinate';
      problems.push(`line ${i + 1}: ${why} in ${quote(token)} (expected non-negative numbers "x,y")`);
      continue;
    }
    points.push([Number(xs), Number(ys)]);
  }
  return problems.length > 0 ? { points: [], problems } : { points, problems };
}

function quote(s: string): string {
  const shown = s.length > 40 ? `${s.slice(0, 40)}…` : s;
  return JSON.stringify(shown);
}
