/**
 * Adam with PyTorch-style L2 weight decay (decay added to the gradient, not decoupled AdamW),
 * with state that serialises into checkpoints. Update, per parameter w with gradient g:
 *   g ← g + λw;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
 *   w ← w − (lr/(1−β1^t)) · m / (sqrt(v)/sqrt(1−β2^t) + ε)        (torch.optim.Adam's arithmetic)
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedArray } from './params';

export interface AdamL2Options {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

/**
 * The moments live in two flat variables (all parameters concatenated in the map's order), so
 * one update is ~20 kernels on concatenated vectors plus a reshape per parameter, instead of
 * ~17 kernels per parameter — the per-kernel overhead of tfjs-node dominated the old form. The
 * elementwise arithmetic is the same, so results equal a per-parameter update bit for bit.
 */
export class AdamL2 {
  private m: tf.Variable;
  private v: tf.Variable;
  private t = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;
  private readonly names: string[];
  private readonly offsets = new Map<string, number>();
  private readonly total: number;

  constructor(private readonly params: ReadonlyMap<string, tf.Variable>, opts: AdamL2Options = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.names = [...params.keys()];
    let off = 0;
    for (const name of this.names) {
      this.offsets.set(name, off);
      off += params.get(name)!.size;
    }
    this.total = off;
    this.m = zerosVariable(this.total);
    this.v = zerosVariable(this.total);
  }

  get stepCount(): number {
    return this.t;
  }

  /**
   * Applies one update. `grads` is keyed by parameter name; the caller disposes it. Parameters
   * without a gradient are skipped entirely (no decay, moments unchanged), as in PyTorch.
   */
  apply(grads: Readonly<Record<string, tf.Tensor>>, lr: number): void {
    if (this.total === 0) return;
    this.t += 1;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    const missing = this.names.filter((n) => !grads[n]);
    if (missing.length === this.names.length) return;
    tf.tidy(() => {
      const vars = this.names.map((n) => this.params.get(n)!);
      const flat = (t: tf.Tensor): tf.Tensor => (t.rank === 1 ? t : tf.reshape(t, [-1]));
      const w = tf.concat(vars.map(flat));
      let g = tf.concat(this.names.map((n, i) => (grads[n] ? flat(grads[n]!) : tf.zeros([vars[i]!.size]))));
      if (this.weightDecay !== 0) g = tf.add(g, tf.mul(w, this.weightDecay));
      let m = tf.add(tf.mul(this.m, this.beta1), tf.mul(g, 1 - this.beta1));
      let v = tf.add(tf.mul(this.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
      // PyTorch's order: denom = sqrt(v)/sqrt(bc2) + eps; w −= (lr/bc1)·m/denom.
      const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), this.epsilon);
      let wNew = tf.sub(w, tf.mul(tf.div(m, denom), lr / bc1));
      if (missing.length > 0) {
        const mask = tf.concat(this.names.map((n, i) => tf.fill([vars[i]!.size], grads[n] ? 1 : 0, 'bool')));
        m = tf.where(mask, m, this.m);
        v = tf.where(mask, v, this.v);
        wNew = tf.where(mask, wNew, w);
      }
      this.m.assign(m);
      this.v.assign(v);
      const parts = tf.split(wNew, vars.map((p) => p.size));
      vars.forEach((p, i) => {
        if (grads[this.names[i]!]) p.assign(p.rank === 1 ? parts[i]! : tf.reshape(parts[i]!, p.shape));
      });
    });
  }

  async toArrays(): Promise<{ step: number; slots: NamedArray[] }> {
    const slots: NamedArray[] = [];
    const mData = (await this.m.data()) as Float32Array;
    const vData = (await this.v.data()) as Float32Array;
    for (const name of [...this.params.keys()].sort()) {
      const p = this.params.get(name)!;
      const off = this.offsets.get(name)!;
      for (const [kind, flat] of [['m', mData], ['v', vData]] as const) {
        slots.push({ name: `${kind}:${name}`, shape: [...p.shape], data: flat.slice(off, off + p.size) });
      }
    }
    return { step: this.t, slots };
  }

  load(step: number, slots: readonly NamedArray[]): void {
    const byName = new Map(slots.map((s) => [s.name, s]));
    const mData = new Float32Array(this.total);
    const vData = new Float32Array(this.total);
    for (const name of this.names) {
      const p = this.params.get(name)!;
      const off = this.offsets.get(name)!;
      for (const [kind, flat] of [['m', mData], ['v', vData]] as const) {
        const s = byName.get(`${kind}:${name}`);
        if (!s) throw new Error(`optimizer state lacks ${kind}:${name}`);
        if (s.shape.join('x') !== p.shape.join('x')) throw new Error(`optimizer slot ${kind}:${name} has shape ${s.shape.join('x')}, expected ${p.shape.join('x')}`);
        flat.set(s.data, off);
      }
    }
    tf.tidy(() => {
      this.m.assign(tf.tensor1d(mData));
      this.v.assign(tf.tensor1d(vData));
    });
    this.t = step;
  }

  dispose(): void {
    this.m.dispose();
    this.v.dispose();
  }
}

/** A non-trainable zero vector (the initial tensor is disposed: tf.variable keeps its own reference). */
function zerosVariable(n: number): tf.Variable {
  const init = tf.zeros([n]);
  const v = tf.variable(init, false);
  init.dispose();
  return v;
}
