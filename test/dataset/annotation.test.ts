import { describe, expect, it } from 'vitest';
import { parseAnnotationBytes, parseAnnotationText } from '../../infra/dataset/annotation';

const lines19 = Array.from({ length: 19 }, (_, i) => `${100 + i},${200 + i}`);

describe('parseAnnotationText', () => {
  it('reads 19 "x,y" lines as [x, y] and ignores extra lines (official class labels)', () => {
    const r = parseAnnotationText([...lines19, '1', '3', '2', 'anything at all'].join('\n'));
    expect(r.problems).toEqual([]);
    expect(r.points).toHaveLength(19);
    expect(r.points[0]).toEqual([100, 200]);
    expect(r.points[18]).toEqual([118, 218]);
  });

  it('splits only the first whitespace token on the comma; CRLF, BOM and decimals are fine', () => {
    const text = '\uFEFF' + ['835,996 extra words', '  1473,1029\t# note', ...lines19.slice(2).map((l) => `${l}.5`)].join('\r\n');
    const r = parseAnnotationText(text);
    expect(r.problems).toEqual([]);
    expect(r.points.slice(0, 3)).toEqual([[835, 996], [1473, 1029], [102, 202.5]]);
  });

  it('rejects fewer than 19 landmark lines', () => {
    const r = parseAnnotationText(lines19.slice(0, 12).join('\n') + '\n');
    expect(r.points).toEqual([]);
    expect(r.problems).toEqual(['wrong landmark count: 12 landmark line(s), expected 19']);
  });

  it.each([
    ['abc,12', /line 4: non-numeric coordinate in "abc,12"/],
    ['NaN,12', /line 4: non-numeric coordinate/],
    ['12,-3', /line 4: negative coordinate in "12,-3"/],
    ['-1,5', /line 4: negative coordinate/],
    ['1e3,5', /line 4: non-numeric coordinate/],
    ['0x10,5', /line 4: non-numeric coordinate/],
    ['12,', /line 4: non-numeric coordinate/],
    ['12;13', /line 4: "12;13" is not "x,y"/],
    ['1,2,3', /line 4: "1,2,3" is not "x,y"/],
  ])('rejects %s', (bad, message) => {
    const lines = [...lines19];
    lines[3] = bad;
    const r = parseAnnotationText(lines.join('\n'));
    expect(r.points).toEqual([]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatch(message);
  });

  it('reports an empty line among the first 19 (CC2D would crash on it)', () => {
    const lines = [...lines19.slice(0, 5), '', ...lines19.slice(5)];
    const r = parseAnnotationText(lines.join('\n'));
    expect(r.problems).toEqual(['line 6: empty line among the first 19 landmark lines']);
  });

  it('lists every bad line, not just the first', () => {
    const lines = [...lines19];
    lines[0] = 'x,1';
    lines[18] = '1,-1';
    expect(parseAnnotationText(lines.join('\n')).problems).toHaveLength(2);
  });
});

describe('parseAnnotationBytes', () => {
  it('rejects 0-byte and non-UTF-8 files', () => {
    expect(parseAnnotationBytes(new Uint8Array()).problems).toEqual(['empty annotation file (0 bytes)']);
    expect(parseAnnotationBytes(new Uint8Array([0xff, 0xfe, 0x31, 0x2c, 0x32])).problems).toEqual(['annotation file is not UTF-8 text']);
  });
});
