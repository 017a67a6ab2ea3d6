import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { AdamL2 } from '../../../ml/core/adam-l2';

describe('AdamL2', () => {
  it('matches a hand-computed two-step update with L2 decay added to the gradient', () => {
    const w = tf.variable(tf.tensor1d([1, -2]), true, 'adam_test_w');
    const opt = new AdamL2(new Map([['w', w]]), { weightDecay: 0.01 });
    // By hand (float64): g ← g + 0.01·w; m, v EMAs with β = (0.9, 0.999); bias-corrected step of lr 0.1.
    const expected = [[0.9000000019607843, -2.0999999875000017], [0.8787012438702138, -2.195271992145888]];
    [[0.5, 0.1], [-0.3, 0.2]].forEach((g, i) => {
      const grad = tf.tensor1d(g);
      opt.apply({ w: grad }, 0.1);
      grad.dispose();
      const got = Array.from(w.dataSync());
      got.forEach((v, j) => expect(Math.abs(v - expected[i]![j]!)).toBeLessThan(1e-6));
    });
    expect(opt.stepCount).toBe(2);
    opt.dispose();
    w.dispose();
  });

  it('skips parameters without a gradient and round-trips its state', async () => {
    const a = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, 'adam_test_a');
    const b = tf.variable(tf.tensor1d([5, 6, 7]), true, 'adam_test_b');
    const params = new Map<string, tf.Variable>([['a', a], ['b', b]]);
    const opt = new AdamL2(params, { weightDecay: 1e-4 });
    const ga = tf.onesLike(a);
    const gb = tf.tensor1d([0.1, -0.2, 0.3]);
    opt.apply({ a: ga }, 0.01); // b has no gradient: untouched
    expect(Array.from(b.dataSync())).toEqual([5, 6, 7]);
    expect(Array.from(a.dataSync()).every((v, i) => v < [1, 2, 3, 4][i]!)).toBe(true);
    opt.apply({ a: ga, b: gb }, 0.01);
    const state = await opt.toArrays();
    expect(state.slots.map((s) => s.name)).toEqual(['m:a', 'v:a', 'm:b', 'v:b']);
    // A second optimizer loaded from the state continues exactly like the first.
    const a2 = tf.variable(a.clone(), true, 'adam_test_a2');
    const b2 = tf.variable(b.clone(), true, 'adam_test_b2');
    const opt2 = new AdamL2(new Map<string, tf.Variable>([['a', a2], ['b', b2]]), { weightDecay: 1e-4 });
    opt2.load(state.step, state.slots);
    opt.apply({ a: ga, b: gb }, 0.01);
    opt2.apply({ a: ga, b: gb }, 0.01);
    expect(Array.from(a2.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(Array.from(b2.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(() => opt2.load(1, state.slots.slice(1))).toThrow(/lacks m:a/);
    tf.dispose([ga, gb, a, b, a2, b2]);
    opt.dispose();
    opt2.dispose();
  });

  it('does not leak tensors per update, nor after dispose', () => {
    const base = tf.memory().numTensors;
    const init = tf.randomNormal([3, 3]);
    const w = tf.variable(init, true, 'adam_test_leak');
    init.dispose();
    const opt = new AdamL2(new Map([['w', w]]), { weightDecay: 1e-4 });
    const g = tf.onesLike(w);
    opt.apply({ w: g }, 1e-3);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) opt.apply({ w: g }, 1e-3);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([g, w]);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(base);
  });
});
