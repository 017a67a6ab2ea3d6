/**
 * Adam with PyTorch-style L2 weight decay (decay added to the gradient, not decoupled AdamW),
 * with state that serialises into checkpoints. Update, per parameter w with gradient g:
 *   g ← g + λw;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
 *   w ← w − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε)
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedArray } from './params';

export interface AdamL2Options {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
}

export class AdamL2 {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private t = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;

  constructor(private readonly params: ReadonlyMap<string, tf.Variable>, opts: AdamL2Options = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    for (const [name, p] of params) {
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
    }
  }

  get stepCount(): number {
    return this.t;
  }

  /** Applies one update. `grads` is keyed by parameter name; the caller disposes it. */
  apply(grads: Readonly<Record<string, tf.Tensor>>, lr: number): void {
    this.t += 1;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        let g = grads[name];
        if (!g) continue;
        if (this.weightDecay !== 0) g = tf.add(g, tf.mul(p, this.weightDecay));
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
        v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
        const denom = tf.add(tf.sqrt(tf.div(v, bc2)), this.epsilon);
        p.assign(tf.sub(p, tf.mul(tf.div(tf.div(m, bc1), denom), lr)));
      }
    });
  }

  async toArrays(): Promise<{ step: number; slots: NamedArray[] }> {
    const slots: NamedArray[] = [];
    for (const name of [...this.params.keys()].sort()) {
      for (const [kind, map] of [['m', this.m], ['v', this.v]] as const) {
        const t = map.get(name)!;
        slots.push({ name: `${kind}:${name}`, shape: [...t.shape], data: (await t.data()) as Float32Array });
      }
    }
    return { step: this.t, slots };
  }

  load(step: number, slots: readonly NamedArray[]): void {
    const byName = new Map(slots.map((s) => [s.name, s]));
    for (const name of this.params.keys()) {
      for (const [kind, map] of [['m', this.m], ['v', this.v]] as const) {
        const s = byName.get(`${kind}:${name}`);
        if (!s) throw new Error(`optimizer state lacks ${kind}:${name}`);
        const target = map.get(name)!;
        if (s.shape.join('x') !== target.shape.join('x')) throw new Error(`optimizer slot ${kind}:${name} has shape ${s.shape.join('x')}, expected ${target.shape.join('x')}`);
        tf.tidy(() => target.assign(tf.tensor(s.data, s.shape, 'float32')));
      }
    }
    this.t = step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
