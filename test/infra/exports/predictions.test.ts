import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSlicerMarkups } from '../../../infra/dataset/site/landmark-files';
import { csvField, exportFiles, imageMarkupsJson, isExportFile, predictionsCsv, predictionsDocument, type PredictionSet } from '../../../infra/exports/predictions';
import { checkTargetFolder, writeFolderAtomically } from '../../../infra/exports/write-local';
import { UserError } from '../../../infra/errors';

const set: PredictionSet = {
  requestSha256: 'a'.repeat(64),
  model: { runId: 'cc2d-isbi-1', site: 'isbi', tplWeightsSha256: 'b'.repeat(64), profile: 'smoke', datasetVersion: 'c'.repeat(64), codeVersion: 'abc123' },
  flagBelow: 0.5,
  landmarkNames: ['Sella', 'Nasion (soft)'],
  images: [
    { image: '001', widthPx: 100, heightPx: 80, spacingMm: 0.1, landmarks: [
      { name: 'Sella', xPx: 12.5, yPx: 40.123456, confidence: 0.91234567 },
      { name: 'Nasion (soft)', xPx: 0, yPx: 79.5, confidence: 0.2 },
    ] },
    { image: '002', widthPx: 50, heightPx: 50, spacingMm: null, landmarks: [
      { name: 'Sella', xPx: 1, yPx: 2, confidence: 0.5 },
      { name: 'Nasion (soft)', xPx: 3, yPx: 4, confidence: 0.49999 },
    ] },
  ],
};

describe('prediction exports', () => {
  it('CSV: header, one row per image x landmark, mm only with a spacing, flags below the threshold, quoting', () => {
    const text = predictionsCsv(set);
    expect(text.split('\r\n')[0]).toBe('image,landmark,x_px,y_px,x_mm,y_mm,confidence,flag');
    const rows = parse(text, { columns: true }) as Array<Record<string, string>>;
    expect(rows).toHaveLength(4);
    expect(rows[0]).toEqual({ image: '001', landmark: 'Sella', x_px: '12.5', y_px: '40.123', x_mm: '1.25', y_mm: '4.0123', confidence: '0.9123', flag: '' });
    expect(rows[1]).toMatchObject({ landmark: 'Nasion (soft)', flag: 'low-confidence' });
    expect(rows[2]).toMatchObject({ image: '002', x_mm: '', y_mm: '', confidence: '0.5', flag: '' });
    expect(rows[3]!.flag).toBe('low-confidence');
    expect(csvField('a"b')).toBe('"a""b"');
  });

  it('JSON: model and versions, threshold, the same rows per image; identical bytes for the same input', () => {
    const doc = predictionsDocument(set) as { model: { runId: string }; images: Array<{ landmarks: Array<{ xMm: number | null; flag: string | null }> }> };
    expect(doc.model.runId).toBe('cc2d-isbi-1');
    expect(doc.images[0]!.landmarks[0]!.xMm).toBe(1.25);
    expect(doc.images[1]!.landmarks[0]!.xMm).toBeNull();
    expect(doc.images[0]!.landmarks[1]!.flag).toBe('low-confidence');
    const a = exportFiles(set);
    const b = exportFiles(structuredClone(set));
    expect(a).toEqual(b);
    expect(a.map((f) => f.relPath)).toEqual(['predictions.csv', 'predictions.json', 'markups/001.mrk.json', 'markups/002.mrk.json']);
  });

  it('Slicer markups: K named control points in mm that read back to the same pixels', () => {
    const text = imageMarkupsJson(set.images[0]!);
    const json = JSON.parse(text) as { markups: Array<{ coordinateUnits: string; controlPoints: Array<{ label: string; position: number[] }> }> };
    expect(json.markups[0]!.coordinateUnits).toBe('mm');
    expect(json.markups[0]!.controlPoints.map((p) => p.label)).toEqual(['Sella', 'Nasion (soft)']);
    expect(json.markups[0]!.controlPoints[0]!.position[0]).toBeCloseTo(1.25, 9);
    const back = parseSlicerMarkups(text, 0.1);
    expect(back.problems).toEqual([]);
    expect(back.landmarks[0]!.x).toBeCloseTo(12.5, 9);
    expect(back.landmarks[0]!.y).toBeCloseTo(40.123, 9);
    // No spacing: 1 mm per pixel (Slicer's own assumption).
    expect(parseSlicerMarkups(imageMarkupsJson(set.images[1]!), 1).landmarks[1]).toEqual({ name: 'Nasion (soft)', x: 3, y: 4 });
  });

  it('Slicer markups carry the CSV\'s millimetres digit for digit (not the rounded pixels times the spacing)', () => {
    // 12.3456 px x 0.3 mm = 3.70368 mm: the CSV says 3.7037; 12.346 px (the rounded pixel) x 0.3 = 3.7038.
    const img = { image: '003', widthPx: 100, heightPx: 100, spacingMm: 0.3, landmarks: [{ name: 'Sella', xPx: 12.3456, yPx: 7.77777, confidence: 1 }] };
    const csv = parse(predictionsCsv({ ...set, images: [img] }), { columns: true }) as Array<Record<string, string>>;
    const markups = JSON.parse(imageMarkupsJson(img)) as { markups: Array<{ controlPoints: Array<{ position: number[] }> }> };
    const position = markups.markups[0]!.controlPoints[0]!.position;
    expect(csv[0]).toMatchObject({ x_mm: '3.7037', y_mm: '2.3333' });
    expect(position).toEqual([3.7037, 2.3333, 0]);
    // Without a spacing the positions are the pixels (1 mm per pixel): the CSV's x_px digits.
    const bare = { ...img, spacingMm: null };
    const bareCsv = parse(predictionsCsv({ ...set, images: [bare] }), { columns: true }) as Array<Record<string, string>>;
    expect(bareCsv[0]).toMatchObject({ x_px: '12.346', y_px: '7.778', x_mm: '' });
    const bareMarkups = JSON.parse(imageMarkupsJson(bare)) as { markups: Array<{ controlPoints: Array<{ position: number[] }> }> };
    expect(bareMarkups.markups[0]!.controlPoints[0]!.position).toEqual([12.346, 7.778, 0]);
  });
});

describe('writeFolderAtomically', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const enc = (s: string) => new TextEncoder().encode(s);
  const owns = isExportFile;

  it('creates the folder in one rename; an earlier export is replaced as a whole (no stale markups of another request); no temporary folder left', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-write-'));
    const out = path.join(dir, 'out');
    await writeFolderAtomically(out, [{ relPath: 'predictions.csv', bytes: enc('1') }, { relPath: 'markups/151.mrk.json', bytes: enc('m151') }, { relPath: 'markups/999.mrk.json', bytes: enc('m999') }], owns, '--out');
    expect(await readFile(path.join(out, 'markups/151.mrk.json'), 'utf8')).toBe('m151');
    // A second request with other formats and images: the folder then holds exactly its files.
    await writeFolderAtomically(out, [{ relPath: 'predictions.csv', bytes: enc('2') }, { relPath: 'predictions.json', bytes: enc('{}') }], owns, '--out');
    expect(await readFile(path.join(out, 'predictions.csv'), 'utf8')).toBe('2');
    expect((await readdir(out)).sort()).toEqual(['predictions.csv', 'predictions.json']);
    expect((await readdir(dir)).sort()).toEqual(['out']);
    await expect(writeFolderAtomically(out, [{ relPath: '../x', bytes: enc('') }], owns, '--out')).rejects.toThrow(/outside/);
  });

  it('refuses a folder holding other files, and a file in its place, before writing anything', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-write-'));
    const out = path.join(dir, 'out');
    await mkdir(path.join(out, 'markups'), { recursive: true });
    await writeFile(path.join(out, 'predictions.csv'), 'old');
    await writeFile(path.join(out, 'notes.txt'), 'mine');
    await expect(checkTargetFolder(out, owns, '--out')).rejects.toThrow(/--out .*out: holds files that are not an earlier export \(notes\.txt\)/);
    await expect(writeFolderAtomically(out, [{ relPath: 'predictions.csv', bytes: enc('new') }], owns, '--out')).rejects.toThrow(UserError);
    expect(await readFile(path.join(out, 'predictions.csv'), 'utf8')).toBe('old');
    expect(await readFile(path.join(out, 'notes.txt'), 'utf8')).toBe('mine');
    const file = path.join(dir, 'build.js');
    await writeFile(file, '');
    await expect(checkTargetFolder(file, owns, '--out')).rejects.toThrow(/--out .*build\.js: a file, not a folder/);
    expect((await readdir(dir)).sort()).toEqual(['build.js', 'out']);
    expect(await checkTargetFolder(path.join(dir, 'new'), owns, '--out')).toBe('empty');
    // An empty folder of its own is not an export either (it would have been removed silently).
    const withFolder = path.join(dir, 'with-folder');
    await mkdir(path.join(withFolder, 'notes'), { recursive: true });
    await expect(checkTargetFolder(withFolder, owns, '--out')).rejects.toThrow(/not an earlier export \(notes\/\)/);
    // A symbolic link, the filesystem root, and a folder holding the working directory.
    await symlink(out, path.join(dir, 'link'));
    await expect(checkTargetFolder(path.join(dir, 'link'), owns, '--out')).rejects.toThrow(/a symbolic link/);
    await expect(checkTargetFolder('/', owns, '--out')).rejects.toThrow(/the filesystem root/);
    await expect(checkTargetFolder('.', owns, '--out')).rejects.toThrow(/holds the current directory/);
    await expect(checkTargetFolder(path.dirname(process.cwd()), owns, '--out')).rejects.toThrow(/holds the current directory/);
  });
});
