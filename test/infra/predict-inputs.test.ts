/**
 * The local images of a prediction request (infra/predict/inputs.ts) are found as `site add`
 * finds a site's images (infra/dataset/site/image-file.ts): a folder's DICOM files named by their
 * UID without an extension are found by their magic and keep their whole name as the id; other
 * files without a known extension are left out.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectImageFiles, readLocalImages } from '../../infra/predict/inputs';
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
});
