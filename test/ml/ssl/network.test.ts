import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Prng } from '../../../ml/core/prng';
import { encodeSslWeights, loadSslNetwork, SslNetwork } from '../../../ml/ssl/network';
import type { NamedArray } from '../../../ml/core/params';

const cfg = { width: 0.0625, embedDim: 8, useRfb: true };

describe('ssl network', () => {
  it('emits level 1..5 maps of embedDim channels, also for non-square inputs not divisible by 32', () => {
    const net = SslNetwork.create(cfg, Prng.fromSeed(1));
    tf.tidy(() => {
      const out = net.forward(tf.randomUniform([2, 48, 80, 1], 0, 1, 'float32', 3) as tf.Tensor4D, { training: true });
      expect(out.map((t) => t.shape)).toEqual([
        [2, 24, 40, 8], [2, 12, 20, 8], [2, 6, 10, 8], [2, 3, 5, 8], [2, 1, 2, 8],
      ]);
      for (const t of out) expect(Number.isFinite(tf.sum(t).dataSync()[0]!)).toBe(true);
      const square = net.forward(tf.zeros([1, 64, 64, 1]) as tf.Tensor4D, { training: false });
      expect(square.map((t) => t.shape[1])).toEqual([32, 16, 8, 4, 2]);
    });
    expect(() => tf.tidy(() => net.forward(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D, { training: false }))).toThrow(/1 channel/);
    net.dispose();
  });

  it('is seeded: same seed, same weights; different seed, different weights', async () => {
    const a = SslNetwork.create(cfg, Prng.fromSeed(9));
    const b = SslNetwork.create(cfg, Prng.fromSeed(9));
    const c = SslNetwork.create(cfg, Prng.fromSeed(10));
    const [wa, wb, wc] = await Promise.all([a, b, c].map((n) => n.params.get('head1/w').data()));
    expect(Array.from(wa!)).toEqual(Array.from(wb!));
    expect(Array.from(wa!)).not.toEqual(Array.from(wc!));
    [a, b, c].forEach((n) => n.dispose());
  });

  it('round-trips weights bytes (same eval outputs) and rejects another architecture', async () => {
    const net = SslNetwork.create(cfg, Prng.fromSeed(2));
    // Move BN running stats away from their init so buffers are part of the check.
    tf.tidy(() => net.forward(tf.randomUniform([2, 64, 64, 1], 0, 1, 'float32', 4) as tf.Tensor4D, { training: true }));
    const bytes = await encodeSslWeights(net, 64);
    const copy = loadSslNetwork(bytes, { inputSize: 64, net: cfg });
    tf.tidy(() => {
      const x = tf.randomUniform([1, 64, 64, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
      const ya = net.forward(x, { training: false });
      const yb = copy.forward(x, { training: false });
      ya.forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(Array.from(yb[i]!.dataSync())));
    });
    expect(() => loadSslNetwork(bytes, { inputSize: 64, net: { ...cfg, embedDim: 16 } })).toThrow(/architecture/);
    expect(() => loadSslNetwork(bytes, { inputSize: 128, net: cfg })).toThrow(/inputSize/);
    net.dispose();
    copy.dispose();
  });

  it('loads user backbone weights, folding an RGB first kernel into the 1-channel input', () => {
    const net = SslNetwork.create({ ...cfg, useRfb: false }, Prng.fromSeed(3));
    const prng = Prng.fromSeed(4);
    const arrays: NamedArray[] = [];
    let rgb: NamedArray | undefined;
    for (const [name, v] of net.params.trainable) {
      if (!name.startsWith('enc/')) continue;
      const local = name.slice(4);
      const shape = local === 's0c0/w' ? [3, 3, 3, v.shape[3]!] : [...v.shape];
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => prng.normal());
      const a = { name: local, shape, data };
      if (local === 's0c0/w') rgb = a;
      arrays.push(a);
    }
    net.loadBackboneWeights(arrays);
    tf.tidy(() => {
      const x = tf.randomUniform([1, 32, 32, 1], 0, 1, 'float32', 6) as tf.Tensor4D;
      const grey = tf.conv2d(x, net.params.get('enc/s0c0/w') as unknown as tf.Tensor4D, 1, 'same');
      const viaRgb = tf.conv2d(tf.concat([x, x, x], 3) as tf.Tensor4D, tf.tensor4d(rgb!.data, rgb!.shape as [number, number, number, number]), 1, 'same');
      expect(tf.max(tf.abs(tf.sub(grey, viaRgb))).dataSync()[0]).toBeLessThan(1e-4);
      const s1 = arrays.find((a) => a.name === 's1c0/b')!;
      expect(Array.from(net.params.get('enc/s1c0/b').dataSync())).toEqual(Array.from(s1.data));
    });
    expect(() => net.loadBackboneWeights(arrays.filter((a) => a.name !== 's4c3/w'))).toThrow(/lack s4c3\/w/);
    expect(() => net.loadBackboneWeights(arrays.map((a) => (a.name === 's2c0/w' ? { ...a, shape: [1, 1, 1, 1], data: new Float32Array(1) } : a)))).toThrow(/shape/);
    net.dispose();
  });
});
