import { describe, expect, it } from 'vitest';
import { InvalidDatasetKeyError } from '../../infra/errors';
import { assertValidKeys, joinKey, keyProblem, normalizePrefix, runKeys, runPrefix } from '../../infra/storage/keys';

describe('object key validation', () => {
  it.each([
    'a',
    'images/001.bmp',
    'runs/r1/ckpt/3-a1/weights.bin',
    'a.b/c-d_e/f..g', // ".." inside a name is fine
    '...', // a segment of three dots is not a traversal
    'name with spaces/ü.json',
    '50%25/x', // percent-encoding that decodes to something harmless
    '100%.png', // a literal percent sign
  ])('accepts %j', (key) => {
    expect(keyProblem(key)).toBeUndefined();
  });

  it.each([
    ['', 'empty'],
    ['../x', 'dot segment'],
    ['a/../../x', 'dot segment'],
    ['./x', 'dot segment'],
    ['a/.', 'dot segment'],
    ['/abs', 'absolute'],
    ['/etc/passwd', 'absolute'],
    ['..\\x', 'backslash'],
    ['a\\b', 'backslash'],
    ['nul\u0000byte', 'control character'],
    ['line\nfeed', 'control character'],
    ['a//b', 'empty segment'],
    ['a/', 'empty segment'],
    ['C:/windows', 'drive letter'],
    ['%2e%2e/x', 'dot segment after decoding'],
    ['%2E%2E%2Fx', 'dot segment after decoding'],
    ['a/%2e%2e', 'dot segment after decoding'],
    ['%252e%252e/x', 'dot segment after decoding'],
    ['..%2fx', 'dot segment after decoding'],
    ['%2fabs', 'absolute after decoding'],
    ['a%5cb', 'backslash after decoding'],
    ['a%00b', 'control character after decoding'],
    ['\uff0e\uff0e/x', 'dot segment after decoding'], // fullwidth dots (NFKC)
  ])('rejects %j (%s)', (key, why) => {
    expect(keyProblem(key)).toBe(why);
  });

  it('rejects non-strings and over-long keys', () => {
    expect(keyProblem(42)).toBe('not a string');
    expect(keyProblem('a'.repeat(1025))).toMatch(/longer than/);
  });

  it('lists every offender in one InvalidDatasetKeyError', () => {
    let err: unknown;
    try {
      assertValidKeys(['ok/1', '../a', 'ok/2', '/b', '%2e%2e/c']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidDatasetKeyError);
    const e = err as InvalidDatasetKeyError;
    expect(e.type).toBe('InvalidDatasetKey');
    expect(e.offenders).toHaveLength(3);
    expect(e.message).toContain('"../a"');
    expect(e.message).toContain('"/b"');
    expect(e.message).toContain('"%2e%2e/c"');
  });

  it('joins and normalises prefixes', () => {
    expect(joinKey('', 'a', 'b/c')).toBe('a/b/c');
    expect(normalizePrefix('runs/x/')).toBe('runs/x');
    expect(normalizePrefix('')).toBe('');
    expect(() => joinKey('runs', '../etc')).toThrow(InvalidDatasetKeyError);
    expect(() => normalizePrefix('/abs')).toThrow(InvalidDatasetKeyError);
  });
});

describe('run key layout', () => {
  it('puts every object of a run under runs/<run>/, with awkward id characters replaced', () => {
    expect(runPrefix('site-a/2024 01:02')).toBe('runs/site-a_2024_01_02');
    const sha = 'a'.repeat(64);
    const keys = [
      runKeys.weights('r', 'ssl', sha), runKeys.lossLog('r', 'tpl', sha), runKeys.trainDone('r', 'ssl'), runKeys.pseudoLabels('r', 0, 2, sha),
      runKeys.metrics('r', sha), runKeys.predictions('r', sha), runKeys.sslMetrics('r', sha), runKeys.report('r', sha), runKeys.reportHtml('r'), runKeys.manifest('r'),
      ...Object.values(runKeys.checkpoint('r', 'tpl', 12, 3)),
    ];
    for (const k of keys) expect(keyProblem(k), k).toBeUndefined();
    expect(keys.every((k) => k.startsWith('runs/r/'))).toBe(true);
    expect(runKeys.checkpoint('r', 'tpl', 12, 3).blob).toBe('runs/r/tpl/ckpt/000000012-a3/state.ckpt');
    expect(runKeys.reportHtml('r')).toBe('runs/r/report/report.html');
  });
});
