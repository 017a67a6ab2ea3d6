import { describe, expect, it } from 'vitest';
import { Prng } from '../../../ml/core/prng';

const draw = (p: Prng, n: number): number[] => Array.from({ length: n }, () => p.nextUint32());

describe('Prng', () => {
  it('is deterministic per seed and differs between seeds', () => {
    expect(draw(Prng.fromSeed(2022), 50)).toEqual(draw(Prng.fromSeed(2022), 50));
    expect(draw(Prng.fromSeed(2022), 50)).not.toEqual(draw(Prng.fromSeed(2023), 50));
  });

  it('round-trips its state: a restored stream continues identically', () => {
    const a = Prng.fromSeed(5);
    draw(a, 17);
    a.normal();
    const state = a.state();
    const b = Prng.fromState(JSON.parse(JSON.stringify(state)) as number[]);
    expect(draw(b, 100)).toEqual(draw(a, 100));
    expect(() => Prng.fromState([1, 2, 3])).toThrow(/four uint32/);
    expect(() => Prng.fromState([1, 2, 3, -1])).toThrow(/four uint32/);
  });

  it('derives reproducible, key-dependent streams', () => {
    expect(draw(Prng.derive(7, 3), 10)).toEqual(draw(Prng.derive(7, 3), 10));
    expect(draw(Prng.derive(7, 3), 10)).not.toEqual(draw(Prng.derive(7, 4), 10));
    expect(draw(Prng.derive(7, 3), 10)).not.toEqual(draw(Prng.derive(8, 3), 10));
    expect(draw(Prng.derive(7, 1, 2), 10)).not.toEqual(draw(Prng.derive(7, 2, 1), 10));
  });

  it('draws in range: next, uniform, int, shuffle', () => {
    const p = Prng.fromSeed(1);
    const counts = new Array<number>(5).fill(0);
    for (let i = 0; i < 5000; i++) {
      const u = p.next();
      expect(u >= 0 && u < 1).toBe(true);
      const v = p.uniform(-2, 3);
      expect(v >= -2 && v < 3).toBe(true);
      counts[p.int(5)]! += 1;
    }
    for (const c of counts) expect(c).toBeGreaterThan(850);
    const items = Array.from({ length: 20 }, (_, i) => i);
    const shuffled = p.shuffle([...items]);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
    expect(shuffled).not.toEqual(items);
    expect(() => p.int(0)).toThrow();
  });
});
