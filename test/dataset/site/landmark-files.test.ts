import { describe, expect, it } from 'vitest';
import {
  landmarkFileKind,
  matchNames,
  outsideImage,
  parseIsbiLandmarks,
  parseLandmarkCsv,
  parseLandmarkFile,
  parseSlicerMarkups,
  toSlicerMarkups,
} from '../../../infra/dataset/site/landmark-files';
import type { NamedPoint } from '../../../infra/dataset/site/types';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function csv(points: readonly NamedPoint[]): string {
  return ['name,x,y', ...points.map((p) => `${p.name},${p.x},${p.y}`)].join('\n');
}

const THIRTY: NamedPoint[] = Array.from({ length: 30 }, (_, i) => ({ name: `P${i + 1}`, x: 10 + i, y: 100 - i * 2.5 }));

describe('landmark files', () => {
  it('names the format and id from the file name', () => {
    expect(landmarkFileKind('007.mrk.json')).toEqual({ format: 'slicer', id: '007' });
    expect(landmarkFileKind('a-1.CSV')).toEqual({ format: 'csv', id: 'a-1' });
    expect(landmarkFileKind('12.txt')).toEqual({ format: 'isbi', id: '12' });
    expect(landmarkFileKind('notes.md')).toBeUndefined();
  });

  it('reads CSV with K = 1 and K = 30', () => {
    expect(parseLandmarkCsv('name,x,y\nSella,12.5,40\n')).toEqual({ landmarks: [{ name: 'Sella', x: 12.5, y: 40 }], problems: [] });
    expect(parseLandmarkCsv(`\uFEFF${csv(THIRTY)}\r\n`).landmarks).toEqual(THIRTY);
  });

  it('reports CSV header, field, number and name problems with line numbers', () => {
    expect(parseLandmarkCsv('label,x,y\nA,1,2').problems[0]).toMatch(/header "label,x,y", expected "name,x,y"/);
    expect(parseLandmarkCsv('name,x,y\nA,1').problems).toEqual(['line 2: 2 field(s), expected 3 (name,x,y)']);
    expect(parseLandmarkCsv('name,x,y\nA,abc,2').problems[0]).toMatch(/line 2: non-numeric coordinate in "abc,2" for landmark "A"/);
    expect(parseLandmarkCsv('name,x,y\nA,1e3,2').problems[0]).toMatch(/non-numeric/);
    // A float as Python or JS prints it (17 significant digits) is a number.
    expect(parseLandmarkCsv('name,x,y\nA,208.42635658914728,249').landmarks).toEqual([{ name: 'A', x: 208.42635658914728, y: 249 }]);
    // Names the dataset contract refuses are refused here, naming the rule, not by every later run.
    for (const bad of ['Gonion, left', 'Pogonion/soft', 'Nasión', ' Sella', 'x'.repeat(65)]) {
      expect(parseLandmarkCsv(`name,x,y\n"${bad}",1,2`).problems[0]).toMatch(/^landmark name .*: 1-64 characters of A-Z/);
    }
    expect(parseLandmarkCsv("name,x,y\nGonion (left) - soft tissue's 2+,1,2").problems).toEqual([]);
    expect(parseLandmarkCsv('name,x,y\nA,1,2\nA,3,4').problems).toEqual(['duplicate landmark name "A"']);
    expect(parseLandmarkCsv('name,x,y\n').problems).toEqual(['no landmarks']);
  });

  it('reads ISBI .txt: K leading "x,y" lines, names L1..LK or the template names', () => {
    const isbi = '835,996\n1473,1029\n1289,1279\n1\n2\n';
    expect(parseIsbiLandmarks(isbi).landmarks).toEqual([
      { name: 'L1', x: 835, y: 996 },
      { name: 'L2', x: 1473, y: 1029 },
      { name: 'L3', x: 1289, y: 1279 },
    ]);
    expect(parseIsbiLandmarks(isbi, ['S', 'N']).landmarks.map((p) => p.name)).toEqual(['S', 'N']);
    expect(parseIsbiLandmarks('1,2\n', ['S', 'N']).problems[0]).toMatch(/expected 2/);
    expect(parseIsbiLandmarks('1,x\n').problems[0]).toMatch(/non-numeric/);
  });

  it('round-trips pixels through Slicer markups in LPS and RAS', () => {
    for (const system of ['LPS', 'RAS'] as const) {
      const json = JSON.stringify(toSlicerMarkups(THIRTY, 0.125, system));
      const back = parseSlicerMarkups(json, 0.125);
      expect(back.problems).toEqual([]);
      back.landmarks.forEach((p, i) => {
        expect(p.name).toBe(THIRTY[i]?.name);
        expect(p.x).toBeCloseTo(THIRTY[i]?.x as number, 9);
        expect(p.y).toBeCloseTo(THIRTY[i]?.y as number, 9);
      });
    }
  });

  it('converts Slicer mm with the documented rule: x = L/s = -R/s, y = P/s = -A/s', () => {
    const file = (system: string, position: number[]): string =>
      JSON.stringify({ markups: [{ type: 'Fiducial', coordinateSystem: system, controlPoints: [{ label: 'S', position }] }] });
    expect(parseSlicerMarkups(file('LPS', [10, 5, 0]), 0.125).landmarks).toEqual([{ name: 'S', x: 80, y: 40 }]);
    expect(parseSlicerMarkups(file('RAS', [-10, -5, 0]), 0.125).landmarks).toEqual([{ name: 'S', x: 80, y: 40 }]);
    const exported = toSlicerMarkups([{ name: 'S', x: 80, y: 40 }], 0.125, 'RAS') as { markups: Array<{ controlPoints: Array<{ position: number[] }> }> };
    expect(exported.markups[0]?.controlPoints[0]?.position).toEqual([-10, -5, 0]);
  });

  it('validates Slicer files and needs the spacing', () => {
    const base = { type: 'Fiducial', coordinateSystem: 'LPS', controlPoints: [{ label: 'S', position: [1, 2, 0] }] };
    const problems = (m: unknown): string[] => parseSlicerMarkups(JSON.stringify({ markups: [m] }), 0.1).problems;
    expect(problems({ ...base, coordinateSystem: undefined })[0]).toMatch(/markups\.0\.coordinateSystem: coordinateSystem must be "LPS" or "RAS"/);
    expect(problems({ ...base, coordinateUnits: 'um' })[0]).toMatch(/coordinateUnits must be "mm"/);
    expect(problems({ ...base, type: 'Line' })[0]).toMatch(/"Line"/);
    expect(problems({ ...base, controlPoints: [{ label: 'S', position: [1, 2] }] })[0]).toMatch(/controlPoints\.0\.position/);
    expect(problems({ ...base, controlPoints: [{ label: 'S', position: [1, 2, 0], positionStatus: 'undefined' }] })[0]).toMatch(/not placed/);
    expect(parseSlicerMarkups('{', 0.1).problems[0]).toMatch(/not valid JSON/);
    expect(parseLandmarkFile(text(JSON.stringify({ markups: [base] })), 'slicer').problems[0]).toMatch(/needs a pixel spacing/);
    expect(parseLandmarkFile(text(JSON.stringify({ markups: [base] })), 'slicer', { spacingMm: 0.5 }).landmarks).toEqual([{ name: 'S', x: 2, y: 4 }]);
  });

  it('matches names to the template in its order, or names both sets', () => {
    const template = ['A', 'B', 'C'];
    const same = matchNames(
      [
        { name: 'C', x: 3, y: 3 },
        { name: 'A', x: 1, y: 1 },
        { name: 'B', x: 2, y: 2 },
      ],
      template,
      'landmarks/1.csv',
    );
    expect('landmarks' in same && same.landmarks.map((p) => p.name)).toEqual(template);
    const differ = matchNames(
      [
        { name: 'A', x: 1, y: 1 },
        { name: 'D', x: 2, y: 2 },
      ],
      template,
      'landmarks/1.csv',
    );
    expect('problem' in differ && differ.problem).toMatch(/landmarks\/1\.csv: 3 names "A", "B", "C"; this file: 2 names "A", "D"; missing "B", "C", unexpected "D"/);
  });

  it('flags landmarks outside the image', () => {
    expect(outsideImage([{ name: 'A', x: 40, y: 1 }, { name: 'B', x: -1, y: 1 }, { name: 'C', x: 39.5, y: 49 }], 40, 50, 'images/1.png')).toEqual([
      'landmark "A" (x=40, y=1) is outside the 40x50 image images/1.png',
      'landmark "B" (x=-1, y=1) is outside the 40x50 image images/1.png',
    ]);
  });
});
