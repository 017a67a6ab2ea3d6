/**
 * Ingestion of a few REAL ISBI 2015 images into the real S3 server (dev stack). The images are
 * copied into a temp dataset folder (never into the repo); ISBI_DIR overrides where they come
 * from. Without S3 or the dataset this file skips, and FAILS under CI or CC2D_TEST_STRICT
 * (requireStack, requireDataset).
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetInvalidError } from '../../infra/errors';
import { ingestDataset } from '../../infra/dataset/ingest';
import type { DatasetDescription, DatasetLabels, DatasetSplit } from '../../infra/dataset/published';
import { decodeGrey } from '../../infra/dataset/decode-image';
import { resizeBilinearAntialias } from '../../infra/dataset/resample';
import { decodeWorkingPng } from '../../infra/dataset/working-image';
import { sha256Hex } from '../../infra/storage/hash';
import { readManifest, readManifestFile } from '../../infra/storage/manifest';
import { requireStack } from '../support/stack';
import { requireDataset } from '../support/strict';

const ISBI = await requireDataset('dataset-ingest');
const stack = ISBI ? await requireStack('dataset-ingest') : undefined;
const TRAIN = ['001', '002', '125'];
const TEST1 = ['151', '300'];

let base: string;
let root: string;

beforeAll(async () => {
  if (!stack) return;
  base = await mkdtemp(path.join(os.tmpdir(), 'cc2d-isbi-subset-'));
  root = path.join(base, 'isbi');
  const copy = async (rel: string): Promise<void> => {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await copyFile(path.join(ISBI!, rel), path.join(root, rel));
  };
  for (const [ids, folder] of [[TRAIN, 'TrainingData'], [TEST1, 'Test1Data']] as const) {
    for (const id of ids) {
      await copy(`RawImage/${folder}/${id}.jpg`);
      await copy(`AnnotationsByMD/400_senior/${id}.txt`);
      await copy(`AnnotationsByMD/400_junior/${id}.txt`);
    }
  }
});

afterAll(async () => {
  if (base) await rm(base, { recursive: true, force: true });
  await stack?.cleanup();
});

describe.skipIf(!stack)('ingest real ISBI images into S3', () => {
  it('publishes a verifiable version; re-ingest returns the same id with reused = true and writes nothing', async () => {
    const { store } = stack!;
    const r = await ingestDataset(store, { datasetDir: root, sizes: [64, 192] });
    expect(r.reused).toBe(false);
    expect(r.counts).toEqual({ images: 5, train: 3, test1: 2, test2: 0 });
    // 300.jpg carries colour pixels in its right border: converted, with a warning.
    expect(r.warnings).toEqual([expect.stringMatching(/^RawImage\/Test1Data\/300\.jpg: 1243 pixels \(0\.03 %\) have colour/)]);

    // Manifest present; every object's sha256 verified by re-download.
    const manifest = await readManifest(store, r.prefix, { verify: 'hashes' });
    expect(manifest.files.map((f) => f.key).sort()).toEqual(
      [...[64, 192].flatMap((s) => [...TRAIN, ...TEST1].map((id) => `images/${s}/${id}.png`)), 'dataset.json', 'labels.json', 'split.json'].sort(),
    );
    const listed = (await store.list(`${r.prefix}/`)).map((o) => o.key).sort();
    expect(listed).toEqual([...manifest.files.map((f) => `${r.prefix}/${f.key}`), `${r.prefix}/manifest.json`].sort());

    const read = async <T>(rel: string): Promise<T> => JSON.parse(new TextDecoder().decode(await readManifestFile(store, r.prefix, manifest, rel))) as T;
    const labels = await read<DatasetLabels>('labels.json');
    const l1 = labels.images['001']!;
    expect([l1.widthPx, l1.heightPx, l1.split]).toEqual([1935, 2400, 'train']);
    expect(l1.seniorXyPx!.slice(0, 2)).toEqual([[835, 996], [1473, 1029]]);
    expect(l1.juniorXyPx!.slice(0, 2)).toEqual([[829, 991], [1465, 1035]]);
    expect(l1.gtTruncXyPx!.slice(0, 2)).toEqual([[832, 993], [1469, 1032]]);
    expect(l1.gtMeanXyPx!.slice(0, 2)).toEqual([[832, 993.5], [1469, 1032]]);
    expect(l1.workingYx!['192']!.slice(0, 2)).toEqual([[79, 82], [82, 145]]);
    expect(l1.seniorXyPx!).toHaveLength(19);
    expect(await read<DatasetSplit>('split.json')).toEqual({ train: TRAIN, test1: TEST1, test2: [] });
    const desc = await read<DatasetDescription>('dataset.json');
    expect(desc).toMatchObject({
      datasetVersion: r.datasetVersion,
      imageFormat: 'jpeg',
      splits: ['train', 'test1'],
      testIdsCovered: { test1: TEST1, test2: [] },
      originalSizes: [{ widthPx: 1935, heightPx: 2400, images: 5 }],
      mmPerWorkingPx: { '192': { y: 1.25, x: 1.0078125 } },
    });

    // The stored working image is the Pillow-compatible resize of the decoded source, and its
    // source hash is the file's.
    const src = await import('node:fs/promises').then((fs) => fs.readFile(path.join(root, 'RawImage/TrainingData/125.jpg')));
    expect(labels.images['125']!.sourceSha256).toBe(sha256Hex(src));
    const png = await decodeWorkingPng(await readManifestFile(store, r.prefix, manifest, 'images/192/125.png'));
    expect([png.width, png.height]).toEqual([192, 192]);
    expect(Buffer.from(png.data).equals(Buffer.from(resizeBilinearAntialias(await decodeGrey(src, 'jpeg'), 192, 192).data))).toBe(true);

    const again = await ingestDataset(store, { datasetDir: root, sizes: [192, 64] });
    expect(again).toMatchObject({ datasetVersion: r.datasetVersion, reused: true, objectsWritten: 0 });
    expect((await store.list(`${r.prefix}/`)).map((o) => o.key).sort()).toEqual(listed);
  });

  it('writes nothing under datasets/ when validation fails', async () => {
    const { store } = stack!;
    const bad = await mkdtemp(path.join(os.tmpdir(), 'cc2d-isbi-bad-'));
    try {
      const badRoot = path.join(bad, 'isbi');
      for (const rel of ['RawImage/TrainingData/001.jpg', 'RawImage/Test1Data/151.jpg', 'AnnotationsByMD/400_senior/001.txt', 'AnnotationsByMD/400_junior/001.txt', 'AnnotationsByMD/400_senior/151.txt']) {
        await mkdir(path.dirname(path.join(badRoot, rel)), { recursive: true });
        await copyFile(path.join(ISBI!, rel), path.join(badRoot, rel));
      }
      const before = (await store.list('datasets/')).map((o) => o.key);
      const err = await ingestDataset(store, { datasetDir: badRoot, sizes: [64] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatasetInvalidError);
      expect((err as DatasetInvalidError).problems).toEqual([
        'RawImage/Test1Data/151.jpg: image without junior annotation (expected AnnotationsByMD/400_junior/151.txt)',
      ]);
      expect((await store.list('datasets/')).map((o) => o.key)).toEqual(before);
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});
