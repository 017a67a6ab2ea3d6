/**
 * The local images of a prediction request (infra/predict/inputs.ts) are found as `site add`
 * finds a site's images (infra/dataset/site/image-file.ts): a folder's DICOM files named by their
 * UID without an extension are found by their magic and keep their whole name as the id; other
 * files without a known extension are left out. Per-image spacing: `--spacing-csv`, then the
 * DICOM header, then `--spacing`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectImageFiles, readLocalImages, readSpacingTable, workingImage } from '../../infra/predict/inputs';
import { encodeImage } from '../dataset/support/fixtures';
import { buildDicom } from '../dataset/site/support/dicom-fixture';

describe('predict inputs', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('finds a UID-named DICOM without extension in a folder, with the whole name as its id', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-predict-inputs-'));
    dirs.push(dir);
    const uid = '1.2.840.113619.2.55.3.604688119.868';
    await mkdir(path.join(dir, 'series'));
    await writeFile(path.join(dir, 'series', uid), buildDicom({ width: 40, height: 50, pixelSpacing: [0.1, 0.1] }));
    await writeFile(path.join(dir, 'scan.png'), await encodeImage('png', 40, 50));
    await writeFile(path.join(dir, 'notes.v2'), 'not an image');
    const files = await collectImageFiles([dir]);
    expect(files.map((f) => path.relative(dir, f))).toEqual(['scan.png', path.join('series', uid)]);
    const images = await readLocalImages(files);
    expect(images.map((i) => [i.id, i.format])).toEqual([['scan', 'png'], [uid, 'dicom']]);
  });

  it('a file named on the command line is an image by its content, whatever its name', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-predict-named-'));
    dirs.push(dir);
    const file = path.join(dir, 'scan.img');
    await writeFile(file, await encodeImage('png', 40, 50));
    expect((await readLocalImages(await collectImageFiles([file]))).map((i) => [i.id, i.format])).toEqual([['scan', 'png']]);
    // In a folder only image names and DICOM magic count (a folder may hold anything).
    expect(await collectImageFiles([dir]).catch((e: Error) => e.message)).toMatch(/no images in this folder/);
  });

  it('spacing per image: the --spacing-csv table first, then the DICOM header, then --spacing; a bad table names its file and line', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-predict-spacing-'));
    dirs.push(dir);
    await writeFile(path.join(dir, 'a.png'), await encodeImage('png', 40, 50));
    await writeFile(path.join(dir, 'b.png'), await encodeImage('png', 40, 50, 1));
    await writeFile(path.join(dir, 'c.dcm'), buildDicom({ width: 40, height: 50, pixelSpacing: [0.1, 0.1] }));
    await writeFile(path.join(dir, 'd.dcm'), buildDicom({ width: 40, height: 50, pixelSpacing: [0.15, 0.15] }));
    const images = await readLocalImages(await collectImageFiles([dir]));
    const csv = path.join(dir, 'spacing.csv');
    await writeFile(csv, 'id,mm\na,0.2\nc,0.3\n');
    const table = await readSpacingTable(csv, images);
    const spacingOf = async (fixedMm?: number) =>
      Promise.all(images.map(async (img) => (await workingImage(img, 32, { table, ...(fixedMm !== undefined ? { fixedMm } : {}) })).entry.spacingMm));
    expect(await spacingOf(0.5)).toEqual([0.2, 0.5, 0.3, 0.15]); // a: table, b: --spacing, c: table over header, d: header
    expect(await spacingOf()).toEqual([0.2, null, 0.3, 0.15]);
    await writeFile(csv, 'id,mm\na,0.2\nzz,0.1\nb,-1\n');
    await expect(readSpacingTable(csv, images)).rejects.toThrow(new RegExp(`${csv}: line 3: no image with id "zz"[\\s\\S]*${csv}: line 4: spacing "-1" for b is not a number`));
  });
});
