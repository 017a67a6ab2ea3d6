/**
 * Seeded PRNG (sfc32). Its whole state is four uint32s, so it goes into checkpoints and a
 * resumed run draws exactly the numbers an uninterrupted one would. ml/ never uses Math.random.
 */
export type PrngState = [number, number, number, number];

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  private constructor(state: PrngState) {
    [this.a, this.b, this.c, this.d] = state.map((v) => v >>> 0) as PrngState;
  }

  /** Seeds from an integer (splitmix32 expands it), discarding the first draws as sfc32 advises. */
  static fromSeed(seed: number): Prng {
    if (!Number.isFinite(seed)) throw new Error(`Prng seed must be a finite number, got ${seed}`);
    let s = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    const prng = new Prng([next(), next(), next(), next()]);
    for (let i = 0; i < 12; i++) prng.nextUint32();
    return prng;
  }

  /**
   * A stream derived from a seed and a path of integer keys (e.g. `derive(seed, epoch)`), so a
   * resumed run can rebuild per-epoch randomness without storing it. Keys are mixed in with
   * splitmix-style finalisers; different key paths give unrelated streams.
   */
  static derive(seed: number, ...keys: readonly number[]): Prng {
    if (!Number.isFinite(seed)) throw new Error(`Prng.derive: seed must be a finite number, got ${seed}`);
    let h = Math.trunc(seed) >>> 0;
    for (const k of keys) {
      if (!Number.isInteger(k)) throw new Error(`Prng.derive: keys must be integers, got ${k}`);
      h = mix32((h ^ mix32((k >>> 0) + 0x632be5ab)) + 0x9e3779b9);
      h = mix32(h ^ (Math.floor(k / 4294967296) >>> 0));
    }
    return Prng.fromSeed(h);
  }

  static fromState(state: readonly number[]): Prng {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new Error(`Prng state must be four uint32 values, got ${JSON.stringify(state)}`);
    }
    return new Prng([...state] as PrngState);
  }

  /** The four state words as unsigned 32-bit integers (`a` can be held signed internally). */
  state(): PrngState {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    if (!(n >= 1)) throw new Error(`Prng.int: n must be >= 1, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller, one value per call so the state stays four words). */
  normal(): number {
    const u1 = 1 - this.next();
    const u2 = this.next();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** A new independent stream derived from this one (advances this stream by four draws). */
  fork(): Prng {
    return new Prng([this.nextUint32(), this.nextUint32(), this.nextUint32(), this.nextUint32() | 1]);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

function mix32(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}
