/**
 * TEST-ONLY synthetic ISBI-layout datasets in a tmp dir: small grey images with 19 landmarks
 * per doctor. Nothing here touches the real dataset.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { encodeBmp } from './bmp-encoder';

export const FIXTURE_W = 40;
export const FIXTURE_H = 50;

export type FixtureFormat = 'jpg' | 'png' | 'bmp';

export function greyPattern(width: number, height: number, seed = 0): Uint8Array {
  const g = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) g[y * width + x] = (x * 5 + y * 3 + seed * 17) % 256;
  return g;
}

export async function encodeImage(format: FixtureFormat, width = FIXTURE_W, height = FIXTURE_H, seed = 0): Promise<Uint8Array> {
  const grey = greyPattern(width, height, seed);
  if (format === 'bmp') return encodeBmp({ width, height, grey });
  const s = sharp(Buffer.from(grey), { raw: { width, height, channels: 1 } }).toColourspace('b-w');
  const buf = format === 'png' ? await s.png().toBuffer() : await s.jpeg({ quality: 90 }).toBuffer();
  return new Uint8Array(buf);
}

/** 19 landmark lines "x,y" inside a FIXTURE_W × FIXTURE_H image; `shift` moves the junior doctor. */
export function annotationText(shift = 0, extraLines: string[] = []): string {
  const lines = Array.from({ length: 19 }, (_, i) => `${(i * 2 + 1 + shift) % FIXTURE_W},${(i * 2 + 3) % FIXTURE_H}`);
  return [...lines, ...extraLines].join('\n') + '\n';
}

export interface FixtureSpec {
  train?: string[];
  test1?: string[];
  test2?: string[];
  format?: FixtureFormat;
}

export interface Fixture {
  root: string;
  dir: (rel: string) => string;
  write: (rel: string, content: string | Uint8Array) => Promise<void>;
  cleanup: () => Promise<void>;
}

const SPLIT_DIR = { train: 'TrainingData', test1: 'Test1Data', test2: 'Test2Data' } as const;

export async function makeFixture(spec: FixtureSpec = {}): Promise<Fixture> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'cc2d-ingest-'));
  const root = path.join(base, 'ds');
  const format = spec.format ?? 'png';
  const fx: Fixture = {
    root,
    dir: (rel) => path.join(root, rel),
    write: async (rel, content) => {
      await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
      await writeFile(path.join(root, rel), content);
    },
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
  await mkdir(path.join(root, 'RawImage', 'TrainingData'), { recursive: true });
  await mkdir(path.join(root, 'RawImage', 'Test1Data'), { recursive: true });
  await mkdir(path.join(root, 'AnnotationsByMD', '400_senior'), { recursive: true });
  await mkdir(path.join(root, 'AnnotationsByMD', '400_junior'), { recursive: true });
  const splits = { train: spec.train ?? ['001', '002'], test1: spec.test1 ?? ['003'], test2: spec.test2 ?? [] };
  let seed = 0;
  for (const split of ['train', 'test1', 'test2'] as const) {
    for (const id of splits[split]) {
      await fx.write(`RawImage/${SPLIT_DIR[split]}/${id}.${format}`, await encodeImage(format, FIXTURE_W, FIXTURE_H, seed++));
      await fx.write(`AnnotationsByMD/400_senior/${id}.txt`, annotationText(0));
      await fx.write(`AnnotationsByMD/400_junior/${id}.txt`, annotationText(1));
    }
  }
  return fx;
}
