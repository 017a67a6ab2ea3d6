/**
 * TEST-ONLY: a tiny synthetic "cephalogram" dataset in the official ISBI 2015 layout, in a tmp
 * dir. Each image is a 194×240 (W×H, the ISBI aspect at 1/10 scale) grey radiograph-like picture:
 * a bright skull-like ellipse with soft tissue gradient, noise, and a small distinctive mark at
 * each of the 19 landmarks. Landmarks are a fixed template layout, scaled (0.85-1.15) and shifted
 * (±25 px) per image with the skull, plus a per-landmark jitter: copying the template's points to
 * the test images is off by about 3 mm (0.1 mm pixels; it was 0.7 mm with ±5 px shifts only), so
 * a model has to find the marks to beat that (the accuracy gate in pipeline.test.ts). Seeded:
 * the same call always produces the same bytes.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { Prng } from '../../../ml/core/prng';

export const SYN_W = 194;
export const SYN_H = 240;
export const LANDMARKS = 19;

function seededUniform(seed: number): () => number {
  const p = Prng.fromSeed(seed);
  return () => p.next();
}

/** Base layout of the 19 landmarks, [x, y] in original pixels (roughly cephalometric). */
const BASE_XY: Array<[number, number]> = Array.from({ length: LANDMARKS }, (_, i) => {
  const angle = (i / LANDMARKS) * Math.PI * 1.6 + 0.3;
  const r = 55 + (i % 3) * 12;
  return [Math.round(SYN_W / 2 + r * Math.cos(angle) * 0.8), Math.round(SYN_H / 2 + r * Math.sin(angle))];
});

export interface SyntheticImage {
  png: Uint8Array;
  /** [x, y] original pixels. */
  landmarksXy: Array<[number, number]>;
}

export async function syntheticImage(seed: number): Promise<SyntheticImage> {
  const rnd = seededUniform(seed * 7919 + 13);
  const dx = Math.round((rnd() - 0.5) * 50);
  const dy = Math.round((rnd() - 0.5) * 50);
  const scale = 0.85 + 0.3 * rnd();
  const cx = SYN_W / 2 + dx;
  const cy = SYN_H / 2 + dy;
  const landmarksXy = BASE_XY.map(([x, y]): [number, number] => [
    Math.min(SYN_W - 4, Math.max(3, Math.round(cx + (x - SYN_W / 2) * scale + (rnd() - 0.5) * 6))),
    Math.min(SYN_H - 4, Math.max(3, Math.round(cy + (y - SYN_H / 2) * scale + (rnd() - 0.5) * 6))),
  ]);
  const px = new Float32Array(SYN_W * SYN_H);
  for (let y = 0; y < SYN_H; y++) {
    for (let x = 0; x < SYN_W; x++) {
      const e = ((x - cx) / (80 * scale)) ** 2 + ((y - cy) / (100 * scale)) ** 2;
      let v = 25 + 30 * (y / SYN_H);
      if (e < 1) v += 90 * (1 - e) ** 0.5;
      if (Math.abs(e - 1) < 0.06) v += 60; // skull outline
      v += (rnd() - 0.5) * 16;
      px[y * SYN_W + x] = v;
    }
  }
  landmarksXy.forEach(([lx, ly], i) => {
    // A small mark whose shape depends on the landmark index: distinct, matchable features.
    // Strokes 3 px wide and 6-12 px long: still a few cells at the smoke profile's 64 px grid.
    const arm = 6 + 3 * (i % 3);
    const put = (x: number, y: number, a: number) => {
      if (x >= 0 && x < SYN_W && y >= 0 && y < SYN_H) px[y * SYN_W + x] = px[y * SYN_W + x]! + a;
    };
    for (let t = -arm; t <= arm; t++) {
      for (let w = -1; w <= 1; w++) {
        if (i % 2 === 0) {
          put(lx + t, ly + w, 110);
          put(lx + w, ly + t, 110);
        } else {
          put(lx + t + w, ly + t, 110);
          put(lx + t + w, ly - t, 110);
        }
      }
    }
  });
  const grey = new Uint8Array(px.length);
  for (let i = 0; i < px.length; i++) grey[i] = Math.max(0, Math.min(255, Math.round(px[i]!)));
  const png = await sharp(Buffer.from(grey), { raw: { width: SYN_W, height: SYN_H, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  return { png: new Uint8Array(png), landmarksXy };
}

export interface SyntheticDataset {
  root: string;
  train: string[];
  test1: string[];
  cleanup(): Promise<void>;
}

/** `train` and `test1` image counts; ids are 001, 002, … (train first, like ISBI). */
export async function makeSyntheticIsbi(opts: { train?: number; test1?: number; seed?: number } = {}): Promise<SyntheticDataset> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'cc2d-syn-'));
  const root = path.join(base, 'isbi');
  const nTrain = opts.train ?? 6;
  const nTest = opts.test1 ?? 3;
  const ids = Array.from({ length: nTrain + nTest }, (_, i) => String(i + 1).padStart(3, '0'));
  const train = ids.slice(0, nTrain);
  const test1 = ids.slice(nTrain);
  for (const d of ['RawImage/TrainingData', 'RawImage/Test1Data', 'AnnotationsByMD/400_senior', 'AnnotationsByMD/400_junior']) {
    await mkdir(path.join(root, d), { recursive: true });
  }
  for (const [i, id] of ids.entries()) {
    const img = await syntheticImage((opts.seed ?? 0) * 1000 + i + 1);
    const folder = i < nTrain ? 'TrainingData' : 'Test1Data';
    await writeFile(path.join(root, 'RawImage', folder, `${id}.png`), img.png);
    const senior = img.landmarksXy.map(([x, y]) => `${x},${y}`).join('\n') + '\n';
    // The junior doctor is one pixel off on alternate landmarks (GT = int(mean)).
    const junior = img.landmarksXy.map(([x, y], k) => `${x + (k % 2)},${y + ((k + 1) % 2)}`).join('\n') + '\n';
    await writeFile(path.join(root, 'AnnotationsByMD', '400_senior', `${id}.txt`), senior);
    await writeFile(path.join(root, 'AnnotationsByMD', '400_junior', `${id}.txt`), junior);
  }
  return { root, train, test1, cleanup: () => rm(base, { recursive: true, force: true }) };
}
