/**
 * The stage-I cascade embedding network (docs/method.md#ssl-network): VGG19 encoder (5 max-pool outputs), a
 * bilinear decoder with skips, and 1×1 heads emitting an `embedDim`-channel embedding at
 * levels 5..1 (strides 32..2). One shared (Siamese) network embeds both the image and the patch.
 *
 * Choices (documented deviations):
 *  - Input is ONE channel of raw [0, 1] intensities (docs/method.md#preprocessing). The reference replicates the
 *    grey value into 3 channels; that equals a 1-channel first conv whose kernel is the sum of
 *    the 3 input-channel kernels, so nothing is lost (`loadBackboneWeights` folds RGB kernels).
 *  - Level 0 (up5 and its head) is never used by loss or matching, so it is not built.
 *  - Decoder convs have no bias: a bias right before BatchNorm is cancelled by the batch mean
 *    (and absorbed by the running mean in eval), so it only costs time.
 *  - Channel counts are scaled by `width` (ml/core `scaled`).
 * Tensors are NHWC.
 */
import * as tf from '@tensorflow/tfjs';
import type { ForwardMode } from '../core/layers';
import { batchNorm, conv2d, relu, scaled, upsample2 } from '../core/layers';
import type { NamedArray } from '../core/params';
import { ParamStore } from '../core/params';
import type { Prng } from '../core/prng';
import { decodeCheckpoint, encodeCheckpoint } from '../core/checkpoint';
import { defineVggEncoder, loadVggEncoderWeights, vggChannels, vggEncoder } from '../core/vgg-encoder';

export interface SslNetConfig {
  /** Channel width multiplier (1 = paper). */
  width: number;
  /** Embedding length L per level (16 in the paper). */
  embedDim: number;
  /** RFB-modified blocks before the heads of levels 5, 4, 3. */
  useRfb: boolean;
}

/** Levels used by loss and matching, deepest first. Level k has stride 2^k. */
export const SSL_LEVELS = [5, 4, 3, 2, 1] as const;
export type SslLevel = (typeof SSL_LEVELS)[number];

/** Embedding maps indexed by level − 1: [level1 (/2), level2 (/4), …, level5 (/32)], each [N, H/2^k, W/2^k, L]. */
export type SslEmbeddingMaps = [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];

const ENC = 'enc';

function checkConfig(cfg: SslNetConfig): void {
  if (!(cfg.width > 0 && cfg.width <= 1)) throw new Error(`ssl network: width must be in (0, 1], got ${cfg.width}`);
  if (!Number.isInteger(cfg.embedDim) || cfg.embedDim < 1) throw new Error(`ssl network: embedDim must be a positive integer, got ${cfg.embedDim}`);
}

interface Channels {
  enc: number[];
  up: [number, number, number, number];
}

function channels(cfg: SslNetConfig): Channels {
  const enc = vggChannels(cfg.width); // f0..f4
  const up: [number, number, number, number] = [scaled(256, cfg.width), scaled(128, cfg.width), scaled(64, cfg.width), scaled(128, cfg.width)];
  return { enc, up };
}

function defineDoubleConv(p: ParamStore, name: string, cin: number, cout: number): void {
  p.conv(`${name}/c1`, 3, 3, cin, cout, false);
  p.batchNorm(`${name}/bn1`, cout);
  p.conv(`${name}/c2`, 3, 3, cout, cout, false);
  p.batchNorm(`${name}/bn2`, cout);
}

function doubleConv(p: ParamStore, name: string, x: tf.Tensor4D, mode: ForwardMode): tf.Tensor4D {
  const h = relu(batchNorm(p, `${name}/bn1`, conv2d(p, `${name}/c1`, x), mode));
  return relu(batchNorm(p, `${name}/bn2`, conv2d(p, `${name}/c2`, h), mode));
}

/** conv (no bias) + BN, no ReLU ("BasicConv2d" of the RFB-modified block). */
function defineBasic(p: ParamStore, name: string, kh: number, kw: number, cin: number, cout: number): void {
  p.conv(`${name}/conv`, kh, kw, cin, cout, false);
  p.batchNorm(`${name}/bn`, cout);
}

function basic(p: ParamStore, name: string, x: tf.Tensor4D, mode: ForwardMode, dilation = 1): tf.Tensor4D {
  return batchNorm(p, `${name}/bn`, conv2d(p, `${name}/conv`, x, { dilation }), mode);
}

/**
 * RFB-modified branches after their shared-input 1×1 convs: [kh, kw, dilation] per conv.
 * Branch 0 is the 1×1 conv alone.
 */
const RFB_BRANCH_TAILS: ReadonlyArray<ReadonlyArray<readonly [number, number, number]>> = [
  [],
  [[1, 3, 1], [3, 1, 1], [3, 3, 3]],
  [[1, 5, 1], [5, 1, 1], [3, 3, 5]],
  [[1, 7, 1], [7, 1, 1], [3, 3, 7]],
];

/**
 * The five 1×1 conv + BN units that read the block input (the first conv of each of the four
 * branches and the shortcut) are one 1×1 conv to 5C channels with one 5C-channel BN, then split:
 * BatchNorm is per channel, so this is the same function with 4 fewer conv and BN calls.
 */
function defineRfb(p: ParamStore, name: string, c: number): void {
  defineBasic(p, `${name}/in`, 1, 1, c, 5 * c);
  RFB_BRANCH_TAILS.forEach((tail, b) => tail.forEach(([kh, kw], i) => defineBasic(p, `${name}/b${b}_${i + 1}`, kh, kw, c, c)));
  defineBasic(p, `${name}/cat`, 3, 3, 4 * c, c);
}

function rfb(p: ParamStore, name: string, x: tf.Tensor4D, mode: ForwardMode): tf.Tensor4D {
  const heads = tf.split(basic(p, `${name}/in`, x, mode), 5, 3) as tf.Tensor4D[];
  const outs = RFB_BRANCH_TAILS.map((tail, b) => {
    let h = heads[b]!;
    tail.forEach(([, , d], i) => {
      h = basic(p, `${name}/b${b}_${i + 1}`, h, mode, d);
    });
    return h;
  });
  const cat = basic(p, `${name}/cat`, tf.concat(outs, 3), mode);
  return relu(tf.add(cat, heads[4]!)) as tf.Tensor4D;
}

/** Declares every parameter of the network in `p` (seeded He init from p's Prng). */
export function defineSslNet(p: ParamStore, cfg: SslNetConfig): void {
  checkConfig(cfg);
  const ch = channels(cfg);
  const [f0, f1, f2, f3, f4] = ch.enc as [number, number, number, number, number];
  defineVggEncoder(p, ENC, 1, cfg.width);
  defineDoubleConv(p, 'up1', f4 + f3, ch.up[0]);
  defineDoubleConv(p, 'up2', ch.up[0] + f2, ch.up[1]);
  defineDoubleConv(p, 'up3', ch.up[1] + f1, ch.up[2]);
  defineDoubleConv(p, 'up4', ch.up[2] + f0, ch.up[3]);
  const headIn: Record<SslLevel, number> = { 5: f4, 4: ch.up[0], 3: ch.up[1], 2: ch.up[2], 1: ch.up[3] };
  for (const k of SSL_LEVELS) {
    if (cfg.useRfb && k >= 3) defineRfb(p, `rfb${k}`, headIn[k]);
    p.conv(`head${k}`, 1, 1, headIn[k], cfg.embedDim, true);
  }
}

/** Pads `x` (bottom/right-heavy split, as F.pad with diff//2) to the skip's spatial size. */
function padTo(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  const dy = h - x.shape[1];
  const dx = w - x.shape[2];
  if (dy === 0 && dx === 0) return x;
  if (dy < 0 || dx < 0) throw new Error(`ssl network: upsampled map ${x.shape[1]}x${x.shape[2]} larger than skip ${h}x${w}`);
  return tf.pad(x, [[0, 0], [Math.floor(dy / 2), dy - Math.floor(dy / 2)], [Math.floor(dx / 2), dx - Math.floor(dx / 2)], [0, 0]]);
}

function up(p: ParamStore, name: string, x: tf.Tensor4D, skip: tf.Tensor4D, mode: ForwardMode): tf.Tensor4D {
  const u = padTo(upsample2(x), skip.shape[1], skip.shape[2]);
  return doubleConv(p, name, tf.concat([skip, u], 3), mode);
}

/**
 * Forward pass. `x` is [N, H, W, 1] in [0, 1], H and W at least 32. Returns the level-1..5
 * embedding maps (see `SslEmbeddingMaps`). Builds ops only; the caller owns the tidy scope.
 * In training mode BatchNorm uses batch statistics and updates its running buffers.
 */
export function sslForward(p: ParamStore, cfg: SslNetConfig, x: tf.Tensor4D, mode: ForwardMode): SslEmbeddingMaps {
  if (x.shape[3] !== 1) throw new Error(`ssl network: input must have 1 channel, got ${x.shape[3]}`);
  if (x.shape[1] < 32 || x.shape[2] < 32) throw new Error(`ssl network: input ${x.shape[1]}x${x.shape[2]} is smaller than 32x32`);
  const [f0, f1, f2, f3, f4] = vggEncoder(p, ENC, x) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  const u1 = up(p, 'up1', f4, f3, mode);
  const u2 = up(p, 'up2', u1, f2, mode);
  const u3 = up(p, 'up3', u2, f1, mode);
  const u4 = up(p, 'up4', u3, f0, mode);
  const feat: Record<SslLevel, tf.Tensor4D> = { 5: f4, 4: u1, 3: u2, 2: u3, 1: u4 };
  const head = (k: SslLevel): tf.Tensor4D => {
    const h = cfg.useRfb && k >= 3 ? rfb(p, `rfb${k}`, feat[k], mode) : feat[k];
    return conv2d(p, `head${k}`, h);
  };
  return [head(1), head(2), head(3), head(4), head(5)];
}

/** A network instance: its parameters plus its configuration. */
export class SslNetwork {
  private constructor(readonly params: ParamStore, readonly config: SslNetConfig) {}

  /** A freshly initialised network (seeded He init), or zero weights to be loaded when `initPrng` is null. */
  static create(config: SslNetConfig, initPrng: Prng | null): SslNetwork {
    const p = new ParamStore(initPrng);
    try {
      return SslNetwork.define(p, config);
    } catch (err) {
      p.dispose();
      throw err;
    }
  }

  /** Declares the network's parameters in `p` (which it then owns) and returns the network over them. */
  static define(p: ParamStore, config: SslNetConfig): SslNetwork {
    defineSslNet(p, config);
    return new SslNetwork(p, { ...config });
  }

  forward(x: tf.Tensor4D, mode: ForwardMode): SslEmbeddingMaps {
    return sslForward(this.params, this.config, x, mode);
  }

  /**
   * Loads user-supplied VGG19 backbone weights (e.g. converted ImageNet weights). Names are the
   * encoder-relative conv names `s{stage}c{conv}/w` (HWIO kernel [3, 3, cin, cout]) and
   * `s{stage}c{conv}/b` ([cout]), stage 0..4, conv 0..1 (stages 0–1) or 0..3 (stages 2–4), in
   * torchvision `features` order. A 3-channel (RGB) first kernel is folded into the network's
   * 1-channel input by summing over input channels (exact for a grey image replicated to RGB;
   * no mean/std normalisation, docs/method.md#backbone-init). Every encoder parameter must be supplied.
   */
  loadBackboneWeights(arrays: readonly NamedArray[]): void {
    loadVggEncoderWeights(this.params, ENC, arrays, this.config.width);
  }

  dispose(): void {
    this.params.dispose();
  }
}

/** Architecture fields stored with weights so a loader can check them. */
export interface SslWeightsMeta {
  inputSize: number;
  net: SslNetConfig;
}

export const SSL_WEIGHTS_KIND = 'cc2d-ssl-weights';
export const SSL_CHECKPOINT_KIND = 'cc2d-ssl-checkpoint';

/** Inference weights (parameters + BN buffers) as bytes (ml/core checkpoint codec, no optimizer). */
export async function encodeSslWeights(net: SslNetwork, inputSize: number, extra: Record<string, unknown> = {}): Promise<Uint8Array> {
  const meta: SslWeightsMeta = { inputSize, net: net.config };
  return encodeCheckpoint({
    kind: SSL_WEIGHTS_KIND, step: 0, prng: [0, 0, 0, 0], params: await net.params.toArrays(),
    optimizer: { step: 0, slots: [] }, meta: { ...extra, ...meta },
  });
}

/**
 * Builds a network from weights bytes (from `exportWeights` or a full SSL checkpoint), checking
 * the architecture against `expected`.
 */
export function loadSslNetwork(bytes: Uint8Array, expected: SslWeightsMeta): SslNetwork {
  const c = decodeCheckpoint(bytes);
  if (c.kind !== SSL_WEIGHTS_KIND && c.kind !== SSL_CHECKPOINT_KIND) throw new Error(`ssl weights: unexpected kind "${c.kind}"`);
  const meta = c.meta as Partial<SslWeightsMeta>;
  const net = meta.net;
  if (!net || net.width !== expected.net.width || net.embedDim !== expected.net.embedDim || net.useRfb !== expected.net.useRfb) {
    throw new Error(`ssl weights: architecture ${JSON.stringify(net)} does not match the profile's ${JSON.stringify(expected.net)}`);
  }
  if (meta.inputSize !== expected.inputSize) throw new Error(`ssl weights: trained at inputSize ${meta.inputSize}, profile says ${expected.inputSize}`);
  const model = SslNetwork.create(expected.net, null);
  try {
    model.params.load(c.params);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
