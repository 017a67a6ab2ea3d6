/**
 * Parameters of a functional network: named tf.Variables (trainable) and buffers
 * (non-trainable, e.g. BatchNorm running statistics). Initialisation draws from the seeded
 * Prng on the JS side, so a seed gives the same weights on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { Prng } from './prng';

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export class ParamStore {
  readonly trainable = new Map<string, tf.Variable>();
  readonly buffers = new Map<string, tf.Variable>();

  /**
   * `prng` seeds the He init. Pass `null` for a store whose values will be overwritten by
   * `load` (e.g. from a checkpoint): weights then start as zeros and no random draws are spent,
   * which matters at paper width (58M weights take seconds to draw in JS).
   */
  constructor(private readonly prng: Prng | null) {}

  private add(map: Map<string, tf.Variable>, name: string, shape: number[], data: Float32Array, trainable: boolean): tf.Variable {
    if (this.trainable.has(name) || this.buffers.has(name)) throw new Error(`parameter ${name} defined twice`);
    // tf.variable keeps its own reference to the data: dispose the initial tensor, or every
    // parameter leaves one tensor (and, after the variable is disposed, its memory) behind.
    const init = tf.tensor(data, shape, 'float32');
    const v = tf.variable(init, trainable, `${name}_${variableSerial++}`);
    init.dispose();
    map.set(name, v);
    return v;
  }

  /** He-normal (fan-in, ReLU gain) weights. */
  heNormal(name: string, shape: number[], fanIn: number): tf.Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    const std = Math.sqrt(2 / fanIn);
    const data = new Float32Array(size);
    if (this.prng) for (let i = 0; i < size; i++) data[i] = this.prng.normal() * std;
    return this.add(this.trainable, name, shape, data, true);
  }

  constant(name: string, shape: number[], value: number, trainable = true): tf.Variable {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value);
    return this.add(trainable ? this.trainable : this.buffers, name, shape, data, trainable);
  }

  /** A conv layer's kernel [kh, kw, cin, cout] and optional bias [cout]. */
  conv(name: string, kh: number, kw: number, cin: number, cout: number, bias = true): void {
    this.heNormal(`${name}/w`, [kh, kw, cin, cout], kh * kw * cin);
    if (bias) this.constant(`${name}/b`, [cout], 0);
  }

  /** BatchNorm affine (gamma, beta) and running mean/variance buffers. */
  batchNorm(name: string, channels: number): void {
    this.constant(`${name}/gamma`, [channels], 1);
    this.constant(`${name}/beta`, [channels], 0);
    this.constant(`${name}/mean`, [channels], 0, false);
    this.constant(`${name}/var`, [channels], 1, false);
  }

  get(name: string): tf.Variable {
    const v = this.trainable.get(name) ?? this.buffers.get(name);
    if (!v) throw new Error(`unknown parameter ${name}`);
    return v;
  }

  has(name: string): boolean {
    return this.trainable.has(name) || this.buffers.has(name);
  }

  /** Number of trainable scalars. */
  count(): number {
    let n = 0;
    for (const v of this.trainable.values()) n += v.size;
    return n;
  }

  /** All parameters and buffers as plain arrays, sorted by name (stable for hashing). */
  async toArrays(): Promise<NamedArray[]> {
    const out: NamedArray[] = [];
    const names = [...this.trainable.keys(), ...this.buffers.keys()].sort();
    for (const name of names) {
      const v = this.get(name);
      out.push({ name, shape: [...v.shape], data: (await v.data()) as Float32Array });
    }
    return out;
  }

  /** Loads arrays produced by `toArrays`; every parameter must be present with its shape. */
  load(arrays: readonly NamedArray[]): void {
    const byName = new Map(arrays.map((a) => [a.name, a]));
    for (const [name, v] of [...this.trainable, ...this.buffers]) {
      const a = byName.get(name);
      if (!a) throw new Error(`checkpoint lacks parameter ${name}`);
      if (a.shape.join('x') !== v.shape.join('x')) {
        throw new Error(`parameter ${name}: checkpoint shape ${a.shape.join('x')} != model shape ${v.shape.join('x')}`);
      }
      tf.tidy(() => v.assign(tf.tensor(a.data, a.shape, 'float32')));
    }
  }

  dispose(): void {
    for (const v of this.trainable.values()) v.dispose();
    for (const v of this.buffers.values()) v.dispose();
    this.trainable.clear();
    this.buffers.clear();
  }
}

let variableSerial = 0;
