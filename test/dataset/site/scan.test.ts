import { afterEach, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { DatasetInvalidError, InvalidConfigError } from '../../../infra/errors';
import { toSlicerMarkups } from '../../../infra/dataset/site/landmark-files';
import { scanSiteFolder } from '../../../infra/dataset/site/scan';
import { isSafeId } from '../../../infra/dataset/safe-path';
import type { NamedPoint, SiteProblem } from '../../../infra/dataset/site/types';
import { encodeImage } from '../support/fixtures';
import { buildDicom } from './support/dicom-fixture';

const W = 40;
const H = 50;
const NAMES = ['Sella', 'Nasion', 'Orbitale'];
const POINTS: NamedPoint[] = NAMES.map((name, i) => ({ name, x: 5 + i * 10, y: 8 + i * 12 }));

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Writes `files` (relative path -> content) into a fresh site folder. */
async function site(files: Record<string, string | Uint8Array>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'cc2d-site-'));
  dirs.push(root);
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), content);
  }
  return root;
}

function csv(points: readonly NamedPoint[]): string {
  return ['name,x,y', ...points.map((p) => `${p.name},${p.x},${p.y}`)].join('\n');
}

function dicom(spacing?: number[]): Uint8Array {
  return buildDicom({ width: W, height: H, samples: [0, 4000, 65535], photometric: 'MONOCHROME1', ...(spacing !== undefined ? { pixelSpacing: spacing } : {}) });
}

async function tiff16(): Promise<Uint8Array> {
  const wide = Uint16Array.from({ length: W * H }, (_, i) => i * 13);
  return new Uint8Array(await sharp(wide, { raw: { width: W, height: H, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'lzw' }).toBuffer());
}

const files = (problems: SiteProblem[]): string[] => problems.map((p) => p.file);

describe('scanSiteFolder', () => {
  it('reads a mixed site: formats anywhere under images/, three landmark formats, spacing by source', async () => {
    const root = await site({
      'images/a/001.png': await encodeImage('png', W, H),
      'images/002.dcm': dicom([0.125, 0.125]),
      'images/b/c/003.tif': await tiff16(),
      'images/004': dicom(),
      'images/005.bmp': await encodeImage('bmp', 20, 30),
      'images/readme.md': 'not an image',
      'landmarks/001.csv': csv(POINTS),
      'landmarks/sub/002.mrk.json': JSON.stringify(toSlicerMarkups([...POINTS].reverse(), 0.125, 'RAS')),
      'landmarks/003.txt': POINTS.map((p) => `${p.x},${p.y}`).join('\n'),
      'spacing.csv': 'id,mm\n003,0.2\n',
    });
    const scan = await scanSiteFolder(root, { spacingMm: 0.1, templateId: '001' });
    expect(scan.problems).toEqual([]);
    expect(scan.images.map((i) => [i.id, i.format, i.relPath, i.width, i.height])).toEqual([
      ['001', 'png', 'images/a/001.png', W, H],
      ['002', 'dicom', 'images/002.dcm', W, H],
      ['003', 'tiff', 'images/b/c/003.tif', W, H],
      ['004', 'dicom', 'images/004', W, H],
      ['005', 'bmp', 'images/005.bmp', 20, 30],
    ]);
    expect(Object.fromEntries(scan.spacing)).toEqual({
      '001': { mm: 0.1, source: 'fixed' },
      '002': { mm: 0.125, source: 'dicom-PixelSpacing' },
      '003': { mm: 0.2, source: 'spacing.csv' },
      '004': { mm: 0.1, source: 'fixed' },
      '005': { mm: 0.1, source: 'fixed' },
    });
    expect(scan.landmarkNames).toEqual(NAMES);
    expect([...scan.annotations.keys()].sort()).toEqual(['001', '002', '003']);
    expect(scan.annotations.get('001')?.landmarks).toEqual(POINTS);
    const slicer = scan.annotations.get('002');
    expect(slicer?.format).toBe('slicer');
    slicer?.landmarks.forEach((p, i) => {
      expect(p.name).toBe(NAMES[i]);
      expect(p.x).toBeCloseTo(POINTS[i]?.x as number, 9);
      expect(p.y).toBeCloseTo(POINTS[i]?.y as number, 9);
    });
    expect(scan.annotations.get('003')?.landmarks).toEqual(POINTS);
    expect(scan.warnings).toEqual([{ file: 'images/readme.md', problem: 'not a PNG, JPEG, BMP, TIFF or DICOM image, ignored' }]);
  });

  it('DICOM files named by their UID: with .dcm the id is the UID, without an extension the whole name (its last dot is no extension)', async () => {
    const uid = '1.2.840.113619.2.55.3.604688119.868';
    const root = await site({
      'images/t.png': await encodeImage('png', W, H),
      [`images/${uid}.dcm`]: dicom([0.1, 0.1]),
      [`images/series/${uid}.7`]: dicom([0.1, 0.1]),
      'images/notes.v2': 'not an image, and no DICOM magic',
      'landmarks/t.csv': csv(POINTS),
      [`landmarks/${uid}.csv`]: csv(POINTS),
    });
    const scan = await scanSiteFolder(root, { templateId: 't' });
    expect(scan.problems).toEqual([]);
    expect(scan.images.map((i) => [i.id, i.format, i.relPath])).toEqual([
      [uid, 'dicom', `images/${uid}.dcm`],
      [`${uid}.7`, 'dicom', `images/series/${uid}.7`],
      ['t', 'png', 'images/t.png'],
    ]);
    expect([...scan.annotations.keys()].sort()).toEqual([uid, 't']);
    expect(scan.warnings).toEqual([{ file: 'images/notes.v2', problem: 'not a PNG, JPEG, BMP, TIFF or DICOM image, ignored' }]);
    // Dots stay inside an id: none leading, trailing or doubled.
    for (const bad of ['.hidden', 'a.', 'a..b', `${'9'.repeat(65)}`]) expect(isSafeId(bad), bad).toBe(false);
  });

  it('takes any K >= 1 from the template: K = 1 and K = 30', async () => {
    for (const k of [1, 30]) {
      const points = Array.from({ length: k }, (_, i) => ({ name: `L${i + 1}`, x: i, y: i }));
      const root = await site({ 'images/t.png': await encodeImage('png', W, H), 'images/u.png': await encodeImage('png', W, H), 'landmarks/t.csv': csv(points) });
      const scan = await scanSiteFolder(root, { templateId: 't' });
      expect(scan.problems).toEqual([]);
      expect(scan.landmarkNames).toHaveLength(k);
      expect(scan.annotations.size).toBe(1);
      expect(scan.spacing.get('u')).toBeNull();
    }
  });

  it('reports duplicate ids naming both paths, annotations without image, differing names, bad coordinates', async () => {
    const root = await site({
      'images/x/001.png': await encodeImage('png', W, H),
      'images/y/001.jpg': await encodeImage('jpg', W, H),
      'images/002.png': await encodeImage('png', W, H),
      'images/003.png': await encodeImage('png', W, H),
      'images/004.png': await encodeImage('png', W, H),
      'landmarks/001.csv': csv(POINTS),
      'landmarks/002.csv': csv([POINTS[0] as NamedPoint, { name: 'Gonion', x: 1, y: 1 }]),
      'landmarks/003.csv': csv([...POINTS.slice(0, 2), { name: 'Orbitale', x: W, y: 3 }]),
      'landmarks/004.csv': 'name,x,y\nSella,1,2\nNasion,one,2\nOrbitale,3,3\n',
      'landmarks/999.csv': csv(POINTS),
    });
    const scan = await scanSiteFolder(root, { templateId: '001' });
    const byFile = Object.fromEntries(scan.problems.map((p) => [p.file, p.problem]));
    expect(byFile['images/y/001.jpg']).toBe('duplicate image id 001: images/x/001.png and images/y/001.jpg');
    expect(byFile['landmarks/999.csv']).toMatch(/landmark file without image/);
    expect(byFile['landmarks/002.csv']).toMatch(/names differ from the template's \(landmarks\/001\.csv: 3 names "Sella", "Nasion", "Orbitale"; this file: 2 names "Sella", "Gonion"/);
    expect(byFile['landmarks/003.csv']).toBe('landmark "Orbitale" (x=40, y=3) is outside the 40x50 image images/003.png');
    expect(byFile['landmarks/004.csv']).toMatch(/line 3: non-numeric coordinate/);
    expect(scan.annotations.has('001')).toBe(true);
    expect(scan.problems).toHaveLength(5);
  });

  it('needs a spacing for DICOM and for Slicer files; no default', async () => {
    const root = await site({
      'images/001.dcm': dicom(),
      'images/002.png': await encodeImage('png', W, H),
      'landmarks/002.mrk.json': JSON.stringify(toSlicerMarkups(POINTS, 0.1)),
    });
    const scan = await scanSiteFolder(root);
    expect(scan.problems).toEqual([
      { file: 'images/001.dcm', problem: 'no pixel spacing: neither (0028,0030) PixelSpacing nor (0018,1164) ImagerPixelSpacing, and no spacing.csv entry or --spacing' },
      { file: 'landmarks/002.mrk.json', problem: expect.stringMatching(/needs a pixel spacing/) },
    ]);
    expect(scan.spacing.get('002')).toBeNull();
    expect(scan.landmarkNames).toBeNull();
    const fixed = await scanSiteFolder(root, { spacingMm: 0.1 });
    expect(fixed.problems).toEqual([]);
    expect(fixed.annotations.get('002')?.landmarks.map((p) => Math.round(p.x * 1e6) / 1e6)).toEqual(POINTS.map((p) => p.x));
  });

  it('reports a bad DICOM, spacing.csv errors, a template without landmarks and an escaping symlink', async () => {
    const outside = await mkdtemp(path.join(os.tmpdir(), 'cc2d-outside-'));
    dirs.push(outside);
    await writeFile(path.join(outside, 'secret.png'), await encodeImage('png', W, H));
    const root = await site({
      'images/001.png': await encodeImage('png', W, H),
      'images/002.dcm': buildDicom({ width: W, height: H, frames: 3, pixelSpacing: [0.1, 0.1] }),
      'landmarks/001.csv': csv(POINTS),
      'spacing.csv': 'id,mm\n001,0\n777,0.1\n',
    });
    await symlink(path.join(outside, 'secret.png'), path.join(root, 'images', '003.png'));
    const scan = await scanSiteFolder(root, { templateId: '002' });
    expect(scan.problems).toEqual([
      { file: 'images/003.png', problem: 'resolves outside the dataset root (symlink escaping the root)' },
      { file: 'spacing.csv', problem: 'line 2: spacing "0" for 001 is not a number in (0, 10] mm' },
      { file: 'spacing.csv', problem: 'line 3: no image with id "777"' },
      { file: 'images/002.dcm', problem: 'multi-frame image: (0028,0008) NumberOfFrames = 3 (one frame per file only)' },
      { file: 'landmarks', problem: 'template image 002 has no landmark file (landmarks/002.csv, .mrk.json or .txt)' },
    ]);
    expect(scan.landmarkNames).toBeNull();
    expect(files(scan.problems)).not.toContain('landmarks/001.csv');
  });

  it('refuses a missing folder and invalid options; reports missing sub-folders', async () => {
    await expect(scanSiteFolder('/nonexistent/site')).rejects.toBeInstanceOf(DatasetInvalidError);
    const root = await site({ 'notes.txt': 'x' });
    await expect(scanSiteFolder(root, { spacingMm: 0 })).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(scanSiteFolder(root, { templateId: '../x' })).rejects.toBeInstanceOf(InvalidConfigError);
    const scan = await scanSiteFolder(root);
    expect(scan.problems).toEqual([
      { file: 'images', problem: 'required folder missing' },
      { file: 'images', problem: 'no images found' },
      { file: 'landmarks', problem: 'required folder missing' },
    ]);
  });
});
