/**
 * Synthetic inputs for report tests and screenshots: no ISBI data (docs/method.md#data-copy: ISBI images must
 * never be committed or shown in committed screenshots). Deterministic (seeded).
 */
import sharp from 'sharp';
import type { ImageErrors, RunReportInput } from '../../infra/report';
import { pickOverlayCases } from '../../infra/report';
import { Prng } from '../../ml/core/prng';

/** Uniform [0, 1) numbers from the project's seeded PRNG (ml/core/prng). */
export function prng(seed: number): () => number {
  const p = Prng.fromSeed(seed);
  return () => p.next();
}

/** A synthetic "radiograph": smooth blobs on a dark background, 8-bit grey PNG. */
export async function syntheticRadiograph(size = 384, seed = 1): Promise<Uint8Array> {
  const rnd = prng(seed);
  const blobs = Array.from({ length: 6 }, () => ({ y: rnd() * size, x: rnd() * size, r: size * (0.08 + rnd() * 0.25), a: 60 + rnd() * 120 }));
  const px = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let v = 20 + (40 * y) / size;
      for (const b of blobs) {
        const d2 = ((y - b.y) ** 2 + (x - b.x) ** 2) / (b.r * b.r);
        v += b.a * Math.exp(-d2);
      }
      px[y * size + x] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return new Uint8Array(await sharp(Buffer.from(px), { raw: { width: size, height: size, channels: 1 } }).png().toBuffer());
}

/** `n` images with ids from `firstId`, 19 errors each, log-normal-ish around `scaleMm`. */
export function syntheticErrors(n: number, firstId: number, scaleMm: number, seed: number, k = 19): ImageErrors[] {
  const rnd = prng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: String(firstId + i).padStart(3, '0'),
    errorsMm: Array.from({ length: k }, () => Number((scaleMm * Math.exp((rnd() - 0.5) * 1.6)).toFixed(4))),
  }));
}

export function syntheticLoss(stage: 'ssl' | 'tpl', steps: number, start: number, seed: number): { stage: 'ssl' | 'tpl'; totalSteps: number; points: Array<{ step: number; loss: number }> } {
  const rnd = prng(seed);
  return {
    stage,
    totalSteps: steps,
    points: Array.from({ length: steps }, (_, i) => ({ step: i + 1, loss: start * Math.exp(-(3 * i) / steps) + 0.1 + (rnd() - 0.5) * 0.15 * start * Math.exp(-i / steps) })),
  };
}

/** Landmark [y, x] cells on a 384 grid plus a prediction offset by roughly `errMm`. */
export function syntheticPoints(seed: number, errPx: number, k = 19): { truthYx: Array<[number, number]>; predictedYx: Array<[number, number]> } {
  const rnd = prng(seed);
  const truthYx = Array.from({ length: k }, (): [number, number] => [Math.round(60 + rnd() * 260), Math.round(60 + rnd() * 260)]);
  const predictedYx = truthYx.map(([y, x]): [number, number] => [Math.round(y + (rnd() - 0.5) * 2 * errPx), Math.round(x + (rnd() - 0.5) * 2 * errPx)]);
  return { truthYx, predictedYx };
}

/** A complete, plausible report input on Test1 only (IDs 151–300). */
export async function syntheticReportInput(overrides: Partial<RunReportInput> = {}): Promise<RunReportInput> {
  const test1A = syntheticErrors(150, 151, 2.6, 11);
  const test1B = test1A.map((im) => ({ id: im.id, errorsMm: im.errorsMm.map((e) => Number((e * 0.93).toFixed(4))) }));
  const cases = pickOverlayCases(test1A);
  const overlays = await Promise.all(
    (['best', 'median', 'worst'] as const).map(async (c, i) => {
      const im = cases[c];
      const mre = im.errorsMm.reduce((s, e) => s + e, 0) / im.errorsMm.length;
      return {
        case: c,
        id: im.id,
        split: 'test1',
        protocol: 'A' as const,
        imageMreMm: mre,
        grid: { height: 384, width: 384 },
        displayAspect: 1935 / 2400,
        ...syntheticPoints(100 + i, 2 + i * 6),
        image: await syntheticRadiograph(384, 100 + i),
      };
    }),
  );
  return {
    runId: 'cc2d-default-smoke-synthetic',
    createdAt: '2026-11-27T10:00:00.000Z',
    lineage: {
      datasetVersion: 'isbi-synthetic-0123abcd',
      datasetReused: false,
      configHash: 'f'.repeat(64),
      codeVersion: 'abc1234',
      backend: { backend: 'tensorflow', tfVersion: '2.21.0', tfjsVersion: '4.22.0' },
      seeds: { run: 2022 },
      templateId: '125',
      imageFormat: 'jpeg',
      backboneInit: 'from scratch',
      profile: 'smoke',
      site: 'default',
      inputSize: 384,
      pixelSpacingMm: 0.1,
      trainIds: Array.from({ length: 150 }, (_, i) => String(i + 1).padStart(3, '0')),
      testIdsCovered: { test1: test1A.map((i) => i.id) },
      missingTestSplits: ['test2'],
      config: { profile: 'smoke', templateId: '125', seed: 2022 },
      artifacts: [{ name: 'tpl weights', key: 'runs/x/tpl/weights-abc.bin', sha256: 'a'.repeat(64), size: 1234 }],
      timings: [
        { stage: 'ssl', startedAt: '2026-11-27T09:00:00.000Z', endedAt: '2026-11-27T09:30:00.000Z' },
        { stage: 'tpl', startedAt: '2026-11-27T09:31:00.000Z', endedAt: '2026-11-27T09:50:05.000Z' },
      ],
    },
    metrics: [
      { protocol: 'A', sets: [{ split: 'test1', images: test1A }] },
      { protocol: 'B', sets: [{ split: 'test1', images: test1B }] },
    ],
    losses: { ssl: syntheticLoss('ssl', 3000, 4, 5), tpl: syntheticLoss('tpl', 1200, 1.5, 6) },
    pseudoLabels: { protocol: 'A', images: syntheticErrors(150, 1, 3.4, 21) },
    overlays,
    ...overrides,
  };
}
