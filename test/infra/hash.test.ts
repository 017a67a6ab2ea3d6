import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex, sha256OfJson } from '../../infra/storage/hash';

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: null } })).toBe('{"a":{"c":null,"d":[3,1]},"b":1}');
    expect(sha256OfJson({ x: 1, y: 2 })).toBe(sha256OfJson({ y: 2, x: 1 }));
  });

  it('follows JSON.stringify for Dates, undefined and integer-like keys sorted as strings', () => {
    expect(canonicalJson({ at: new Date(0) })).toBe('{"at":"1970-01-01T00:00:00.000Z"}');
    expect(canonicalJson({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}');
    expect(canonicalJson({ '9': 0, '10': 1, a: 2 })).toBe('{"10":1,"9":0,"a":2}');
  });

  it('agrees with JSON.stringify on key-sorted plain data', () => {
    const v = { a: [1, 'x', true, { b: 2.5 }], c: 'é' };
    expect(canonicalJson(v)).toBe(JSON.stringify(v));
  });
});

describe('sha256Hex', () => {
  it('hashes strings and bytes alike', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(sha256Hex('abc'));
  });
});
