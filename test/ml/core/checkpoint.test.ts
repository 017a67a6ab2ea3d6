import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../../../ml/core/checkpoint';
import type { CheckpointContent } from '../../../ml/core/checkpoint';

function content(): CheckpointContent {
  return {
    kind: 'test-kind',
    step: 42,
    prng: [1, 2, 3, 4294967295],
    params: [
      { name: 'a/w', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, -6.5]) },
      { name: 'b', shape: [1], data: new Float32Array([Math.PI]) },
    ],
    optimizer: { step: 41, slots: [{ name: 'm:a/w', shape: [2, 3], data: new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]) }] },
    meta: { cursor: { epoch: 3, pos: 8 }, note: 'ünïcödé' },
  };
}

describe('checkpoint codec', () => {
  it('round-trips every field', () => {
    const c = content();
    const d = decodeCheckpoint(encodeCheckpoint(c));
    expect(d.kind).toBe(c.kind);
    expect(d.step).toBe(42);
    expect(d.prng).toEqual(c.prng);
    expect(d.meta).toEqual(c.meta);
    expect(d.optimizer.step).toBe(41);
    expect(d.params.map((p) => [p.name, p.shape, Array.from(p.data)])).toEqual(c.params.map((p) => [p.name, p.shape, Array.from(p.data)]));
    expect(d.optimizer.slots.map((p) => [p.name, Array.from(p.data)])).toEqual(c.optimizer.slots.map((p) => [p.name, Array.from(p.data)]));
  });

  it('decodes from an unaligned view into a larger buffer', () => {
    const bytes = encodeCheckpoint(content());
    const big = new Uint8Array(bytes.length + 7);
    big.set(bytes, 3);
    const d = decodeCheckpoint(big.subarray(3, 3 + bytes.length));
    expect(Array.from(d.params[0]!.data)).toEqual([1, 2, 3, 4, 5, -6.5]);
  });

  it('rejects truncated, padded and foreign input', () => {
    const bytes = encodeCheckpoint(content());
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 4))).toThrow(/truncated/);
    expect(() => decodeCheckpoint(bytes.subarray(0, 20))).toThrow();
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(() => decodeCheckpoint(longer)).toThrow(/truncated|expected/);
    expect(() => decodeCheckpoint(new TextEncoder().encode('PK\u0003\u0004 not a checkpoint'))).toThrow(/bad magic/);
  });
});
