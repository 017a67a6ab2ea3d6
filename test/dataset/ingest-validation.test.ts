/**
 * Ingestion on synthetic fixtures with an in-memory store that records every write:
 * the happy path, idempotency, and every bad-input case (docs/reliability.md#b1 to #b4) — each must be
 * named with its file in ONE DatasetInvalidError, and nothing may be written.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { DatasetInvalidError, InvalidConfigError, InvalidDatasetKeyError } from '../../infra/errors';
import { ingestDataset } from '../../infra/dataset/ingest';
import type { DatasetDescription, DatasetLabels, DatasetSplit } from '../../infra/dataset/published';
import { resizeBilinearAntialias } from '../../infra/dataset/resample';
import { decodeWorkingPng } from '../../infra/dataset/working-image';
import { annotationText, encodeImage, FIXTURE_H, FIXTURE_W, greyPattern, makeFixture, type Fixture } from './support/fixtures';
import { RecordingMemoryStore } from './support/memory-store';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function fixture(spec: Parameters<typeof makeFixture>[0] = {}): Promise<Fixture> {
  const fx = await makeFixture(spec);
  cleanups.push(fx.cleanup);
  return fx;
}

async function json<T>(store: RecordingMemoryStore, key: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await store.get(key))) as T;
}

async function expectInvalid(promise: Promise<unknown>): Promise<string[]> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DatasetInvalidError);
  return (err as DatasetInvalidError).problems;
}

describe('ingestDataset on a valid synthetic dataset', () => {
  it('publishes images, labels, split and description, manifest last; re-ingest is a no-op with the same id', async () => {
    const fx = await fixture({ train: ['001', '002'], test1: ['003'], test2: ['004'] });
    await fx.write('AnnotationsByMD/400_senior/002.txt', annotationText(0, ['1', '3', 'class labels after line 19 are ignored']));
    const store = new RecordingMemoryStore();
    const r = await ingestDataset(store, { datasetDir: fx.root, sizes: [32, 16, 32] });
    expect(r.reused).toBe(false);
    expect(r.datasetVersion).toMatch(/^[0-9a-f]{64}$/);
    expect(r.sizes).toEqual([16, 32]);
    expect(r.counts).toEqual({ images: 4, train: 2, test1: 1, test2: 1 });
    const prefix = `datasets/${r.datasetVersion}`;
    expect(store.puts.at(-1)).toBe(`${prefix}/manifest.json`);
    expect(store.puts).toHaveLength(4 * 2 + 3 + 1);

    const labels = await json<DatasetLabels>(store, `${prefix}/labels.json`);
    expect(labels.ids).toEqual(['001', '002', '003', '004']);
    const l1 = labels.images['001']!;
    expect([l1.split, l1.widthPx, l1.heightPx, l1.sourceFormat]).toEqual(['train', FIXTURE_W, FIXTURE_H, 'png']);
    // Fixture: senior (2i+1, 2i+3), junior shifted by +1 in x → mean x = 2i+1.5, truncated 2i+1.
    expect(l1.seniorXyPx![0]).toEqual([1, 3]);
    expect(l1.juniorXyPx![0]).toEqual([2, 3]);
    expect(l1.gtMeanXyPx![0]).toEqual([1.5, 3]);
    expect(l1.gtTruncXyPx![0]).toEqual([1, 3]);
    // [int(3·32/50), int(1·32/40)] = [1, 0]; landmark 19: gt (37, 39) → [int(39·32/50), int(37·32/40)] = [24, 29].
    expect(l1.workingYx!['32']![0]).toEqual([1, 0]);
    expect(l1.gtTruncXyPx![18]).toEqual([37, 39]);
    expect(l1.workingYx!['32']![18]).toEqual([24, 29]);
    expect(Object.keys(l1.workingYx!)).toEqual(['16', '32']);

    expect(await json<DatasetSplit>(store, `${prefix}/split.json`)).toEqual({ train: ['001', '002'], test1: ['003'], test2: ['004'] });
    const desc = await json<DatasetDescription>(store, `${prefix}/dataset.json`);
    expect(desc).toMatchObject({
      datasetVersion: r.datasetVersion,
      pixelSpacingMm: 0.1,
      sizes: [16, 32],
      counts: { images: 4, train: 2, test1: 1, test2: 1 },
      splits: ['train', 'test1', 'test2'],
      testIdsCovered: { test1: ['003'], test2: ['004'] },
      imageFormat: 'png',
      originalSizes: [{ widthPx: FIXTURE_W, heightPx: FIXTURE_H, images: 4 }],
      mmPerWorkingPx: { '16': { y: (0.1 * 50) / 16, x: (0.1 * 40) / 16 }, '32': { y: (0.1 * 50) / 32, x: (0.1 * 40) / 32 } },
    });

    // Working image: 8-bit grey PNG equal to the Pillow-compatible resize of the source.
    const png = await store.get(`${prefix}/images/32/001.png`);
    const meta = await sharp(Buffer.from(png)).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels, meta.depth]).toEqual(['png', 32, 32, 1, 'uchar']);
    const expected = resizeBilinearAntialias({ width: FIXTURE_W, height: FIXTURE_H, data: greyPattern(FIXTURE_W, FIXTURE_H, 0) }, 32, 32);
    expect([...(await decodeWorkingPng(png)).data]).toEqual([...expected.data]);

    const puts = store.puts.length;
    const again = await ingestDataset(store, { datasetDir: fx.root, sizes: [16, 32] });
    expect(again).toMatchObject({ datasetVersion: r.datasetVersion, reused: true, objectsWritten: 0 });
    expect(store.puts).toHaveLength(puts);
  });

  it('derives the id from content and parameters only', async () => {
    const fx = await fixture();
    const store = new RecordingMemoryStore();
    const a = (await ingestDataset(store, { datasetDir: fx.root, sizes: [16] })).datasetVersion;
    expect((await ingestDataset(new RecordingMemoryStore(), { datasetDir: fx.root, sizes: [16], site: 'other-site' })).datasetVersion).toBe(a);
    expect((await ingestDataset(store, { datasetDir: fx.root, sizes: [16, 24] })).datasetVersion).not.toBe(a);
    expect((await ingestDataset(store, { datasetDir: fx.root, sizes: [16], pixelSpacingMm: 0.2 })).datasetVersion).not.toBe(a);
    await fx.write('AnnotationsByMD/400_junior/003.txt', annotationText(2));
    expect((await ingestDataset(store, { datasetDir: fx.root, sizes: [16] })).datasetVersion).not.toBe(a);
  });

  it('ingests BMP and JPEG layouts and reports the image format', async () => {
    for (const [format, name] of [['bmp', 'bmp'], ['jpg', 'jpeg']] as const) {
      const fx = await fixture({ format });
      const store = new RecordingMemoryStore();
      const r = await ingestDataset(store, { datasetDir: fx.root, sizes: [16] });
      const desc = await json<DatasetDescription>(store, `datasets/${r.datasetVersion}/dataset.json`);
      expect(desc.imageFormat).toBe(name);
    }
  });

  it('accepts images of different sizes, scaling each by its own size, with a warning', async () => {
    const fx = await fixture({ train: ['001'], test1: ['002'] });
    await fx.write('RawImage/Test1Data/002.png', await encodeImage('png', 60, 50));
    await fx.write('RawImage/TrainingData/.DS_Store', 'junk');
    const store = new RecordingMemoryStore();
    const r = await ingestDataset(store, { datasetDir: fx.root, sizes: [20] });
    expect(r.warnings).toContain('RawImage/TrainingData/.DS_Store: hidden file ignored');
    expect(r.warnings.some((w) => /2 different original sizes/.test(w))).toBe(true);
    const labels = await json<DatasetLabels>(store, `datasets/${r.datasetVersion}/labels.json`);
    expect(labels.images['002']!.widthPx).toBe(60);
    // landmark 19 gt (37, 39): [int(39·20/50), int(37·20/60)] = [15, 12]
    expect(labels.images['002']!.workingYx!['20']![18]).toEqual([15, 12]);
    const desc = await json<DatasetDescription>(store, `datasets/${r.datasetVersion}/dataset.json`);
    expect(desc.mmPerWorkingPx).toBeUndefined();
  });

  it('reports progress through onProgress', async () => {
    const fx = await fixture();
    const phases = new Set<string>();
    await ingestDataset(new RecordingMemoryStore(), { datasetDir: fx.root, sizes: [16], onProgress: (p) => phases.add(p.phase) });
    expect([...phases]).toEqual(['scan', 'hash', 'process', 'publish', 'done']);
  });
});

describe('ingestDataset rejects bad input in one report and writes nothing', () => {
  it('lists every problem with its file', async () => {
    const fx = await fixture({ train: ['001', '002'], test1: ['003'] });
    const outside = await mkdtemp(path.join(os.tmpdir(), 'cc2d-outside-'));
    cleanups.push(() => rm(outside, { recursive: true, force: true }));
    await writeFile(path.join(outside, 'secret.png'), await encodeImage('png'));
    await mkdir(path.join(outside, 'Test2Data'));

    const both = async (id: string, senior = annotationText(0), junior = annotationText(1)): Promise<void> => {
      await fx.write(`AnnotationsByMD/400_senior/${id}.txt`, senior);
      await fx.write(`AnnotationsByMD/400_junior/${id}.txt`, junior);
    };
    const png = await encodeImage('png');
    const jpg = await encodeImage('jpg');
    // 0-byte, wrong magic, truncated.
    await fx.write('RawImage/TrainingData/004.png', new Uint8Array());
    await both('004');
    await fx.write('RawImage/TrainingData/005.jpg', 'GIF89a not a jpeg');
    await both('005');
    await fx.write('RawImage/TrainingData/006.jpg', jpg.subarray(0, Math.floor(jpg.length / 2)));
    await both('006');
    // Image without senior annotation; annotation without image.
    await fx.write('RawImage/TrainingData/007.png', png);
    await fx.write('AnnotationsByMD/400_junior/007.txt', annotationText(1));
    await both('099');
    // Wrong count, NaN, negative, non-numeric, outside the image (x = 45 ≥ 40, y = 50 ≥ 50).
    const lines = annotationText(0).trim().split('\n');
    const edit = (i: number, v: string): string => lines.map((l, j) => (j === i ? v : l)).join('\n');
    await fx.write('RawImage/TrainingData/008.png', png);
    await both('008', lines.slice(0, 12).join('\n'));
    await fx.write('RawImage/TrainingData/009.png', png);
    await both('009', annotationText(0), edit(1, 'NaN,4'));
    await fx.write('RawImage/TrainingData/010.png', png);
    await both('010', edit(2, '-3,4'));
    await fx.write('RawImage/TrainingData/011.png', png);
    await both('011', edit(4, '45,10'), edit(5, '10,50'));
    await fx.write('RawImage/TrainingData/014.png', png);
    await both('014', edit(6, 'twelve,4'));
    // Duplicate id across formats and splits.
    await fx.write('RawImage/TrainingData/001.jpg', jpg);
    await fx.write('RawImage/Test1Data/002.png', png);
    // Symlinks escaping the root: a file and a whole split folder.
    await symlink(path.join(outside, 'secret.png'), fx.dir('RawImage/TrainingData/012.png'));
    await both('012');
    await symlink(path.join(outside, 'Test2Data'), fx.dir('RawImage/Test2Data'));
    // 16-bit PNG.
    const raw16 = new Uint16Array(FIXTURE_W * FIXTURE_H).fill(30000);
    await fx.write(
      'RawImage/Test1Data/013.png',
      await sharp(Buffer.from(raw16.buffer), { raw: { width: FIXTURE_W, height: FIXTURE_H, channels: 1 } }).toColourspace('grey16').png().toBuffer(),
    );
    await both('013');

    const store = new RecordingMemoryStore();
    const problems = await expectInvalid(ingestDataset(store, { datasetDir: fx.root, sizes: [16] }));
    const expectations: Array<[string, RegExp]> = [
      ['0-byte', /^RawImage\/TrainingData\/004\.png: empty image file \(0 bytes\)$/],
      ['wrong magic', /^RawImage\/TrainingData\/005\.jpg: not a JPEG, PNG or BMP file \(wrong magic bytes/],
      ['truncated', /^RawImage\/TrainingData\/006\.jpg: corrupt/],
      ['no senior', /^RawImage\/TrainingData\/007\.png: image without senior annotation \(expected AnnotationsByMD\/400_senior\/007\.txt\)$/],
      ['orphan senior', /^AnnotationsByMD\/400_senior\/099\.txt: annotation without image/],
      ['orphan junior', /^AnnotationsByMD\/400_junior\/099\.txt: annotation without image/],
      ['count', /^AnnotationsByMD\/400_senior\/008\.txt: wrong landmark count: 12 landmark line\(s\), expected 19$/],
      ['NaN', /^AnnotationsByMD\/400_junior\/009\.txt: line 2: non-numeric coordinate in "NaN,4"/],
      ['negative', /^AnnotationsByMD\/400_senior\/010\.txt: line 3: negative coordinate in "-3,4"/],
      ['non-numeric', /^AnnotationsByMD\/400_senior\/014\.txt: line 7: non-numeric coordinate in "twelve,4"/],
      ['outside x', /^AnnotationsByMD\/400_senior\/011\.txt: senior landmark 5 \(x=45, y=10\) is outside the 40x50 image RawImage\/TrainingData\/011\.png$/],
      ['outside y', /^AnnotationsByMD\/400_junior\/011\.txt: junior landmark 6 \(x=10, y=50\) is outside the 40x50 image/],
      ['duplicate format', /^RawImage\/TrainingData\/001\.png: duplicate image id 001 \(also RawImage\/TrainingData\/001\.jpg\)$/],
      ['duplicate split', /^RawImage\/Test1Data\/002\.png: duplicate image id 002 \(also RawImage\/TrainingData\/002\.png\)$/],
      ['escaping file', /^RawImage\/TrainingData\/012\.png: resolves outside the dataset root/],
      ['escaping folder', /^RawImage\/Test2Data: resolves outside the dataset root/],
      ['16-bit', /^RawImage\/Test1Data\/013\.png: 16-bit image not supported/],
    ];
    for (const [name, re] of expectations) {
      expect(problems.filter((p) => re.test(p)), `${name}: ${re} in\n${problems.join('\n')}`).toHaveLength(1);
    }
    // Nothing else: no secondary noise about 012 (its annotations exist, its image was refused).
    expect(problems).toHaveLength(expectations.length);
    expect(store.puts).toEqual([]);
  });

  it('rejects a missing required split folder, a missing dataset and an empty layout', async () => {
    const fx = await fixture();
    await rm(fx.dir('RawImage/Test1Data'), { recursive: true });
    await rm(fx.dir('AnnotationsByMD/400_senior/003.txt'));
    await rm(fx.dir('AnnotationsByMD/400_junior/003.txt'));
    const store = new RecordingMemoryStore();
    expect(await expectInvalid(ingestDataset(store, { datasetDir: fx.root, sizes: [16] }))).toEqual(['RawImage/Test1Data: required folder missing']);
    const missing = path.join(fx.root, 'nope');
    expect(await expectInvalid(ingestDataset(store, { datasetDir: missing, sizes: [16] }))).toEqual([`${missing}: dataset folder not found`]);
    expect(store.puts).toEqual([]);
  });

  it('rejects senior/junior pairs that disagree beyond the limit (wrong or misordered file)', async () => {
    const fx = await fixture({ train: ['001'], test1: ['002'] });
    await fx.write('AnnotationsByMD/400_junior/002.txt', annotationText(25));
    const store = new RecordingMemoryStore();
    const problems = await expectInvalid(ingestDataset(store, { datasetDir: fx.root, sizes: [16], maxDoctorDisagreementMm: 2 }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^AnnotationsByMD\/400_senior\/002\.txt: senior and junior disagree by \d+\.\d mm \(limit 2 mm\)/);
    expect(store.puts).toEqual([]);
  });

  it('rejects unsafe names before reading, and bad parameters before touching the folder', async () => {
    const fx = await fixture();
    await fx.write('RawImage/TrainingData/x%2e%2e.png', await encodeImage('png'));
    await fx.write('RawImage/TrainingData/a b.png', await encodeImage('png'));
    await fx.write('RawImage/TrainingData/x..\\y.png', await encodeImage('png'));
    await fx.write('AnnotationsByMD/400_senior/%2e%2e.txt', annotationText());
    const store = new RecordingMemoryStore();
    const problems = await expectInvalid(ingestDataset(store, { datasetDir: fx.root, sizes: [16] }));
    expect(problems.sort()).toEqual([
      'AnnotationsByMD/400_senior/%2e%2e.txt: unsafe annotation id "%2e%2e" (allowed: letters, digits, "_", "-" and "." inside, at most 64 characters)',
      'RawImage/TrainingData/a b.png: unsafe image id "a b" (allowed: letters, digits, "_", "-" and "." inside, at most 64 characters)',
      'RawImage/TrainingData/x%2e%2e.png: unsafe image id "x%2e%2e" (allowed: letters, digits, "_", "-" and "." inside, at most 64 characters)',
      'RawImage/TrainingData/x..\\y.png: unsafe image id "x..\\\\y" (allowed: letters, digits, "_", "-" and "." inside, at most 64 characters)',
    ]);
    // Dot-files (e.g. macOS "._001.jpg" resource forks) are never opened: ignored with a warning.
    await rm(fx.dir('RawImage/TrainingData/x%2e%2e.png'));
    await rm(fx.dir('RawImage/TrainingData/a b.png'));
    await rm(fx.dir('RawImage/TrainingData/x..\\y.png'));
    await rm(fx.dir('AnnotationsByMD/400_senior/%2e%2e.txt'));
    await fx.write('RawImage/TrainingData/._001.png', 'AppleDouble junk');
    const ok = await ingestDataset(store, { datasetDir: fx.root, sizes: [16] });
    expect(ok.warnings).toEqual(['RawImage/TrainingData/._001.png: hidden file ignored']);
    store.puts.length = 0;
    await expect(ingestDataset(store, { datasetDir: fx.root, sizes: [16], site: '../x' })).rejects.toThrow(InvalidDatasetKeyError);
    await expect(ingestDataset(store, { datasetDir: fx.root, sizes: [16], site: 'a/b' })).rejects.toThrow(/site "a\/b"/);
    await expect(ingestDataset(store, { datasetDir: `${fx.root}\0x`, sizes: [16] })).rejects.toThrow(InvalidDatasetKeyError);
    await expect(ingestDataset(store, { datasetDir: fx.root, sizes: [] })).rejects.toThrow(InvalidConfigError);
    await expect(ingestDataset(store, { datasetDir: fx.root, sizes: [16.5] })).rejects.toThrow(/sizes: 16.5 is not an integer/);
    await expect(ingestDataset(store, { datasetDir: fx.root, sizes: [16], pixelSpacingMm: -1 })).rejects.toThrow(/pixelSpacingMm/);
    expect(store.puts).toEqual([]);
  });

  it('detects a file that changes between hashing and decoding', async () => {
    const fx = await fixture({ train: ['001'], test1: ['002'] });
    const target = fx.dir('RawImage/TrainingData/001.png');
    const original = await readFile(target);
    const store = new RecordingMemoryStore();
    let swapped = false;
    const problems = await expectInvalid(
      ingestDataset(store, {
        datasetDir: fx.root,
        sizes: [16],
        onProgress: (p) => {
          if (p.phase === 'hash' && p.done === p.total && !swapped) {
            swapped = true;
            void writeFile(target, Buffer.concat([original, Buffer.from([0])]));
          }
        },
      }),
    );
    expect(problems).toContain('RawImage/TrainingData/001.png: file changed during ingestion');
    expect(store.puts).toEqual([]);
  });
});
