/**
 * Pseudo-label inference by cascade template matching (docs/method.md#matching).
 *
 * The network runs in eval mode on the whole template; for each landmark and level k = 5..1 the
 * template vector is taken at (y >> k, x >> k), clamped to the map. For each query image and
 * landmark: cosine map per level (same formula as the loss, ⟨a,e⟩/(‖a‖‖e‖ + 1e-3)), clamped to
 * [0, 1], bilinearly upsampled (half-pixel centres, align-corners false) to S×S, the five maps
 * multiplied, arg-max (first in row-major order on ties) → [y, x] on the S grid.
 *
 * Speed and shard invariance: images go through the network in batches of exactly
 * EMBED_BATCH (a short last batch, and the template, are padded with copies of their last image),
 * which is ≈ 2× faster per image than one at a time on the native CPU backend. Every forward pass
 * therefore has the same shape, and a sample's output does not depend on its batch-mates or its
 * position in the batch (checked bit for bit by test/ml/ssl/matching.test.ts), so
 * `matchTemplate` on any subset returns exactly the rows it would return on the full set.
 * All landmarks of an image share one matmul per level.
 *
 * Prototype matching (profile.ssl.prototypeRounds > 0, docs/method.md#prototypes): the template
 * is one image, so its vector of a landmark carries that image's quirks. Each round matches the
 * whole pool of training images, takes the unit vector of every image at its match, and replaces
 * the landmark's vector at levels ≥ prototypeFromLevel by the mean direction of those vectors and
 * the template's own; the finest levels keep the template's vector (a mean over slightly misplaced
 * matches blurs them). The final matching uses the last round's vectors. The pool is the same for
 * every shard, so shard invariance holds (on one kind of backend: each shard rebuilds the
 * prototypes). The pool is embedded once: its level maps are kept for every round and for the
 * final matching of pool members (up to KEPT_POOL_BYTES), so two rounds cost one forward pass per
 * image plus three matchings instead of three of each. Prototypes are unit vectors, so the
 * cosine's 1e-3 guard weighs relatively more than against the template's raw vector: rounds > 0
 * with an empty pool keeps the template's direction but is not bit-identical to rounds = 0.
 */
import * as tf from '@tensorflow/tfjs';
import { PROTOTYPES_OFF, type Profile } from '../profiles';
import type { GrayImage, PointYX } from '../types';
import { yieldToEventLoop } from '../core/async';
import { COSINE_EPS, safeNorm } from './loss';
import { loadSslNetwork, SSL_LEVELS } from './network';
import type { SslNetwork, SslNetConfig } from './network';

export interface MatchTemplateInput {
  profile: Profile;
  /** Bytes from the SSL trainer's `exportWeights()` (a full SSL checkpoint also works). */
  weights: Uint8Array;
  /** The labelled template image at profile.inputSize². */
  template: GrayImage;
  /** Its landmarks, [y, x] on the working grid. */
  templateLandmarks: PointYX[];
  /** Query images at profile.inputSize². */
  images: GrayImage[];
  /** Called after each image with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /**
   * The unlabelled training images (template excluded) the prototypes are built from; required
   * when profile.ssl.prototypeRounds > 0, unused otherwise.
   */
  pool?: readonly GrayImage[];
  /** Called after each chunk of pool images while the prototypes are built, with (pool images done over all rounds, rounds × pool size). */
  onPoolChunk?: (done: number, total: number) => void;
}

/**
 * The prototypes' pool: the training ids without the template, sorted and unique, so every caller
 * (each pseudo-label shard, the SSL-stage evaluation) sums the same vectors in the same order.
 */
export function prototypePoolIds(trainIds: Iterable<string>, templateId: string): string[] {
  return [...new Set(trainIds)].filter((id) => id !== templateId).sort();
}

/** How many prototype rounds, from which level; a profile stored before the fields existed has none. */
export function prototypeSettingsOf(ssl: { prototypeRounds?: number; prototypeFromLevel?: number }): { rounds: number; fromLevel: number } {
  return { rounds: ssl.prototypeRounds ?? PROTOTYPES_OFF.prototypeRounds, fromLevel: ssl.prototypeFromLevel ?? PROTOTYPES_OFF.prototypeFromLevel };
}

/** One level's embedding map as plain data: [height, width, dim] row-major. */
export interface EmbeddingLevel {
  level: number;
  height: number;
  width: number;
  dim: number;
  data: Float32Array;
}

/** The embedding maps of one image, levels 1..5 (index level − 1). Plain data, storable. */
export interface ImageEmbeddings {
  inputSize: number;
  levels: EmbeddingLevel[];
}

/** Template vectors per level: [K, dim] row-major, index level − 1. */
export interface TemplateDescriptor {
  numLandmarks: number;
  dim: number;
  levels: Float32Array[];
}

/**
 * Row-major index, in an H×W level-`level` map, of the cell under working-grid point [y, x]:
 * (⌊y⌋ >> level, ⌊x⌋ >> level), clamped to the map. The one rule by which a point picks its
 * vector (template description, prototypes, template ranking).
 */
export function levelCellIndex([y, x]: PointYX, level: number, H: number, W: number): number {
  const cy = Math.min(Math.max(Math.floor(y) >> level, 0), H - 1);
  const cx = Math.min(Math.max(Math.floor(x) >> level, 0), W - 1);
  return cy * W + cx;
}

function addUnit(into: Float32Array, offset: number, v: ArrayLike<number>, from: number, dim: number): void {
  let n = 0;
  for (let d = 0; d < dim; d++) n += v[from + d]! ** 2;
  const inv = 1 / Math.sqrt(Math.max(n, 1e-24));
  for (let d = 0; d < dim; d++) into[offset + d]! += v[from + d]! * inv;
}

/**
 * One prototype round's descriptor: at levels ≥ fromLevel, each landmark's vector is the unit
 * mean direction of the template's own vector (from `template`, the round-0 descriptor) and
 * `sums` (per level [K, dim]: the sum of the pool's unit vectors at its matches); lower levels
 * keep the template's vectors. Pure.
 */
export function prototypeDescriptor(template: TemplateDescriptor, sums: readonly Float32Array[], fromLevel: number): TemplateDescriptor {
  const { numLandmarks: K, dim: D } = template;
  if (sums.length !== template.levels.length) throw new Error(`prototypes: ${sums.length} levels of sums for ${template.levels.length} template levels`);
  const levels = template.levels.map((t, i) => {
    if (i + 1 < fromLevel) return t;
    const sum = sums[i]!;
    if (sum.length !== K * D) throw new Error(`prototypes: level ${i + 1} sums have ${sum.length} values, expected ${K * D}`);
    const out = new Float32Array(K * D);
    for (let k = 0; k < K; k++) {
      const mean = new Float32Array(D);
      addUnit(mean, 0, t, k * D, D);
      for (let d = 0; d < D; d++) mean[d]! += sum[k * D + d]!;
      addUnit(out, k * D, mean, 0, D);
    }
    return out;
  });
  return { numLandmarks: K, dim: D, levels };
}

/**
 * Product over levels of the clamped, upsampled cosine maps.
 * `template[k−1]` is [K, L] (landmark vectors at level k), `image[k−1]` is [N, Hk, Wk, L].
 * Returns [N, outH, outW, K]. Builds ops only (caller owns the tidy scope).
 */
export function cascadeSimilarity(template: readonly tf.Tensor2D[], image: readonly tf.Tensor4D[], outH: number, outW: number): tf.Tensor4D {
  if (template.length !== image.length || template.length === 0) throw new Error(`cascadeSimilarity: ${template.length} template levels vs ${image.length} image levels`);
  let prod: tf.Tensor4D | undefined;
  template.forEach((t, i) => {
    const e = image[i]!;
    const [N, H, W, L] = e.shape;
    const [K, Lt] = t.shape;
    if (Lt !== L) throw new Error(`cascadeSimilarity: level ${i + 1} template dim ${Lt} != image dim ${L}`);
    const flat = tf.reshape(e, [N * H * W, L]);
    const dot = tf.matMul(flat, t, false, true); // [NHW, K]
    const en = safeNorm(flat, 1, true); // [NHW, 1]
    const tn = tf.reshape(safeNorm(t, 1, false), [1, K]); // [1, K]
    const cos = tf.clipByValue(tf.div(dot, tf.add(tf.mul(en, tn), COSINE_EPS)), 0, 1);
    const map = tf.reshape(cos, [N, H, W, K]) as tf.Tensor4D;
    const up = H === outH && W === outW ? map : tf.image.resizeBilinear(map, [outH, outW], false, true);
    prod = prod ? (tf.mul(prod, up) as tf.Tensor4D) : up;
  });
  return prod!;
}

/** Arg-max per image and channel of [N, H, W, K] maps → [y, x] per (image, landmark). */
export async function argmax2d(maps: tf.Tensor4D): Promise<PointYX[][]> {
  const [N, H, W, K] = maps.shape;
  const idx = tf.tidy(() => tf.argMax(tf.reshape(maps, [N, H * W, K]), 1));
  try {
    const flat = await idx.data();
    const out: PointYX[][] = [];
    for (let n = 0; n < N; n++) {
      const row: PointYX[] = [];
      for (let k = 0; k < K; k++) {
        const i = flat[n * K + k]!;
        row.push([Math.floor(i / W), i % W]);
      }
      out.push(row);
    }
    return out;
  } finally {
    idx.dispose();
  }
}

/** Images per forward pass when embedding; fixed so every pass has the same shape (see above). */
export const EMBED_BATCH = 4;

/**
 * How many bytes of pool level maps a matcher keeps between prototype rounds (≈ 0.8 MB an image
 * at the cpu profile's 192 grid, so ≈ 680 images); the chunks past it are embedded again in each
 * round, so a site with thousands of training images costs time, not memory.
 */
export const KEPT_POOL_BYTES = 512 * 2 ** 20;

export interface PrototypeOptions {
  rounds: number;
  fromLevel: number;
  /** Bytes of pool level maps kept between rounds (default KEPT_POOL_BYTES). */
  keptPoolBytes?: number;
}

/**
 * A pool's level maps, EMBED_BATCH images per chunk as the forward pass made them; a chunk is
 * embedded the first time it is used and kept while the kept bytes stay within the budget.
 */
class KeptPoolEmbeddings {
  private readonly kept = new Map<number, tf.Tensor4D[]>();
  private bytes = 0;
  private readonly indexOf: Map<GrayImage, number>;

  constructor(
    readonly images: readonly GrayImage[],
    private readonly embed: (imgs: readonly GrayImage[], what: (i: number) => string) => tf.Tensor4D[],
    private readonly budgetBytes: number,
  ) {
    this.indexOf = new Map(images.map((img, i) => [img, i] as const));
  }

  /** Calls `use(maps, done)` for each chunk in order; the maps belong to this object (do not dispose). */
  async forEachChunk(use: (maps: readonly tf.Tensor4D[], done: number) => Promise<void>): Promise<void> {
    for (let start = 0; start < this.images.length; start += EMBED_BATCH) {
      const chunk = this.images.slice(start, start + EMBED_BATCH);
      let maps = this.kept.get(start);
      const fresh = maps === undefined;
      maps ??= this.embed(chunk, (i) => `image ${start + i}`);
      try {
        await use(maps, start + chunk.length);
      } finally {
        if (fresh) this.keepOrDispose(start, maps);
      }
      await yieldToEventLoop();
    }
  }

  /**
   * The level maps [n, Hk, Wk, L] of `imgs` (caller disposes) cut from kept chunks, or undefined
   * when one of them is not a kept pool image.
   */
  mapsOf(imgs: readonly GrayImage[]): tf.Tensor4D[] | undefined {
    const rows: Array<{ maps: tf.Tensor4D[]; row: number }> = [];
    for (const img of imgs) {
      const i = this.indexOf.get(img);
      const maps = i === undefined ? undefined : this.kept.get(i - (i % EMBED_BATCH));
      if (i === undefined || maps === undefined) return undefined;
      rows.push({ maps, row: i % EMBED_BATCH });
    }
    return tf.tidy(() => rows[0]!.maps.map((_, level) => tf.concat(rows.map((r) => tf.slice(r.maps[level]!, r.row, 1)), 0)));
  }

  private keepOrDispose(start: number, maps: tf.Tensor4D[]): void {
    const size = maps.reduce((n, m) => n + m.size * 4, 0);
    if (this.bytes + size <= this.budgetBytes) {
      this.kept.set(start, maps);
      this.bytes += size;
    } else {
      tf.dispose(maps);
    }
  }

  dispose(): void {
    for (const maps of this.kept.values()) tf.dispose(maps);
    this.kept.clear();
    this.bytes = 0;
  }
}

/** A descriptor's vectors as tensors [K, L] per level (caller disposes). */
function descriptorTensors(desc: TemplateDescriptor): tf.Tensor2D[] {
  return tf.tidy(() => desc.levels.map((d) => tf.tensor2d(d, [desc.numLandmarks, desc.dim])));
}

function checkImage(img: GrayImage, S: number, what: string): void {
  if (img.height !== S || img.width !== S || img.data.length !== S * S) {
    throw new Error(`${what} is ${img.height}x${img.width} (${img.data.length} values), expected ${S}x${S}`);
  }
}

/** [EMBED_BATCH, S, S, 1]: the images, then copies of the last one. */
function paddedBatch(imgs: readonly GrayImage[], S: number, what: (i: number) => string): tf.Tensor4D {
  if (imgs.length === 0 || imgs.length > EMBED_BATCH) throw new Error(`matching: ${imgs.length} images in one pass (1..${EMBED_BATCH})`);
  imgs.forEach((img, i) => checkImage(img, S, what(i)));
  const data = new Float32Array(EMBED_BATCH * S * S);
  for (let b = 0; b < EMBED_BATCH; b++) data.set(imgs[Math.min(b, imgs.length - 1)]!.data, b * S * S);
  return tf.tensor4d(data, [EMBED_BATCH, S, S, 1]);
}

/**
 * A loaded matcher: embed images once, describe a template, and match any subset of embedded
 * images (e.g. per shard). Call `dispose()` when done.
 */
export class SslMatcher {
  private passes = 0;

  private constructor(private readonly net: SslNetwork, readonly inputSize: number) {}

  /** Forward passes of the network so far (each EMBED_BATCH images, or the template): what embedding cost. */
  get forwardPasses(): number {
    return this.passes;
  }

  static create(profile: Profile, weights: Uint8Array): SslMatcher {
    const cfg: SslNetConfig = { width: profile.ssl.width, embedDim: profile.ssl.embedDim, useRfb: profile.ssl.useRfb };
    return new SslMatcher(loadSslNetwork(weights, { inputSize: profile.inputSize, net: cfg }), profile.inputSize);
  }

  /** Level maps of up to EMBED_BATCH images as tensors [n, Hk, Wk, L] (caller disposes). */
  private embedTensors(imgs: readonly GrayImage[], what: (i: number) => string): tf.Tensor4D[] {
    this.passes++;
    return tf.tidy(() => {
      const maps = this.net.forward(paddedBatch(imgs, this.inputSize, what), { training: false });
      return imgs.length === EMBED_BATCH ? maps : maps.map((m) => tf.slice(m, 0, imgs.length));
    });
  }

  /** Template vectors [K, L] per level as tensors (caller disposes). */
  private templateTensors(template: GrayImage, landmarks: readonly PointYX[]): tf.Tensor2D[] {
    if (landmarks.length === 0) throw new Error('matching: no template landmarks');
    landmarks.forEach(([y, x], i) => {
      if (!Number.isFinite(y) || !Number.isFinite(x)) throw new Error(`matching: template landmark ${i} is not finite: [${y}, ${x}]`);
    });
    this.passes++;
    return tf.tidy(() => {
      const maps = this.net.forward(paddedBatch([template], this.inputSize, () => 'template'), { training: false });
      return maps.map((batched, i) => {
        const m = tf.slice(batched, 0, 1);
        const level = i + 1;
        const [, H, W, L] = m.shape;
        const idx = new Int32Array(landmarks.map((p) => levelCellIndex(p, level, H, W)));
        return tf.gather(tf.reshape(m, [H * W, L]), tf.tensor1d(idx, 'int32')) as tf.Tensor2D;
      });
    });
  }

  async describeTemplate(template: GrayImage, landmarks: readonly PointYX[]): Promise<TemplateDescriptor> {
    const ts = this.templateTensors(template, landmarks);
    try {
      const levels: Float32Array[] = [];
      for (const t of ts) levels.push((await t.data()) as Float32Array);
      return { numLandmarks: landmarks.length, dim: ts[0]!.shape[1], levels };
    } finally {
      tf.dispose(ts);
    }
  }

  async embed(img: GrayImage): Promise<ImageEmbeddings> {
    return (await this.embedMany([img]))[0]!;
  }

  /** Embeddings of any number of images, EMBED_BATCH per forward pass, as plain data. */
  async embedMany(imgs: readonly GrayImage[]): Promise<ImageEmbeddings[]> {
    const out: ImageEmbeddings[] = [];
    for (let start = 0; start < imgs.length; start += EMBED_BATCH) {
      const chunk = imgs.slice(start, start + EMBED_BATCH);
      const ts = this.embedTensors(chunk, (i) => `image ${start + i}`);
      try {
        const levels = await Promise.all(ts.map(async (t) => (await t.data()) as Float32Array));
        chunk.forEach((_, b) => out.push({
          inputSize: this.inputSize,
          levels: ts.map((t, i) => {
            const [, H, W, L] = t.shape;
            return { level: i + 1, height: H, width: W, dim: L, data: levels[i]!.slice(b * H * W * L, (b + 1) * H * W * L) };
          }),
        }));
      } finally {
        tf.dispose(ts);
      }
      await yieldToEventLoop();
    }
    return out;
  }

  /** Matches already-embedded images against a template descriptor (one image at a time). */
  async matchEmbeddings(desc: TemplateDescriptor, embeddings: readonly ImageEmbeddings[], onProgress?: (done: number, total: number) => void): Promise<PointYX[][]> {
    const tpl = descriptorTensors(desc);
    try {
      const out: PointYX[][] = [];
      for (const [n, emb] of embeddings.entries()) {
        if (emb.inputSize !== this.inputSize) throw new Error(`matching: embeddings ${n} are for inputSize ${emb.inputSize}, not ${this.inputSize}`);
        if (emb.levels.length !== 5 || emb.levels.some((l) => l.dim !== desc.dim)) throw new Error(`matching: embeddings ${n} do not have 5 levels of dim ${desc.dim}`);
        const maps = tf.tidy(() => emb.levels.map((l) => tf.tensor4d(l.data, [1, l.height, l.width, l.dim])));
        try {
          out.push((await this.matchOne(tpl, maps))[0]!);
        } finally {
          tf.dispose(maps);
        }
        onProgress?.(n + 1, embeddings.length);
        await yieldToEventLoop();
      }
      return out;
    } finally {
      tf.dispose(tpl);
    }
  }

  /** Embeds and matches images one by one without keeping embeddings. */
  async matchImages(template: GrayImage, landmarks: readonly PointYX[], images: readonly GrayImage[], onProgress?: (done: number, total: number) => void): Promise<PointYX[][]> {
    return this.matchDescribed(await this.describeTemplate(template, landmarks), images, onProgress);
  }

  /** Embeds and matches images against a descriptor, EMBED_BATCH per forward pass, without keeping embeddings. */
  async matchDescribed(desc: TemplateDescriptor, images: readonly GrayImage[], onProgress?: (done: number, total: number) => void): Promise<PointYX[][]> {
    return this.matchAll(desc, images, onProgress);
  }

  /** `matchDescribed`, cutting kept pool images' maps from `kept` instead of embedding them again. */
  private async matchAll(desc: TemplateDescriptor, images: readonly GrayImage[], onProgress?: (done: number, total: number) => void, kept?: KeptPoolEmbeddings): Promise<PointYX[][]> {
    const out: PointYX[][] = [];
    await this.eachMatchedChunk(desc, images, async (points, _maps, done) => {
      out.push(...points);
      onProgress?.(done, images.length);
    }, kept);
    return out;
  }

  /**
   * The template's descriptor after `rounds` prototype rounds over `pool` (see the file header);
   * rounds = 0 gives the template's own. `onChunk` runs after each chunk of pool images with
   * (pool images done over all rounds, rounds × pool size).
   */
  async describePrototypes(template: GrayImage, landmarks: readonly PointYX[], pool: readonly GrayImage[], opts: PrototypeOptions, onChunk?: (done: number, total: number) => void): Promise<TemplateDescriptor> {
    // Kept maps are reused only by a later round here (no final matching follows): one round keeps none.
    const budget = opts.rounds > 1 ? (opts.keptPoolBytes ?? KEPT_POOL_BYTES) : 0;
    const kept = new KeptPoolEmbeddings(opts.rounds > 0 ? pool : [], (imgs, what) => this.embedTensors(imgs, what), budget);
    try {
      return await this.prototypesOver(kept, template, landmarks, opts, onChunk);
    } finally {
      kept.dispose();
    }
  }

  /**
   * `describePrototypes` then the matches of `images` against its descriptor, with the pool
   * embedded once: its level maps are kept (up to opts.keptPoolBytes, default KEPT_POOL_BYTES)
   * for every round and for the images that are pool members (the same GrayImage objects), which
   * are not embedded again.
   * The points equal `matchDescribed(describePrototypes(…), images)`: a sample's maps do not
   * depend on its batch-mates (file header).
   */
  async matchWithPrototypes(
    template: GrayImage, landmarks: readonly PointYX[], pool: readonly GrayImage[], images: readonly GrayImage[], opts: PrototypeOptions,
    hooks: { onPoolChunk?: (done: number, total: number) => void; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<PointYX[][]> {
    const kept = new KeptPoolEmbeddings(opts.rounds > 0 ? pool : [], (imgs, what) => this.embedTensors(imgs, what), opts.keptPoolBytes ?? KEPT_POOL_BYTES);
    try {
      const desc = await this.prototypesOver(kept, template, landmarks, opts, hooks.onPoolChunk);
      return await this.matchAll(desc, images, hooks.onProgress, kept);
    } finally {
      kept.dispose();
    }
  }

  private async prototypesOver(kept: KeptPoolEmbeddings, template: GrayImage, landmarks: readonly PointYX[], opts: PrototypeOptions, onChunk?: (done: number, total: number) => void): Promise<TemplateDescriptor> {
    if (!Number.isInteger(opts.rounds) || opts.rounds < 0) throw new Error(`prototypes: rounds must be an integer >= 0, got ${opts.rounds}`);
    if (!Number.isInteger(opts.fromLevel) || opts.fromLevel < 1 || opts.fromLevel > 5) throw new Error(`prototypes: fromLevel must be 1..5, got ${opts.fromLevel}`);
    const own = await this.describeTemplate(template, landmarks);
    const pool = kept.images;
    let desc = own;
    for (let r = 0; r < opts.rounds; r++) {
      const K = own.numLandmarks;
      const sums = own.levels.map((l) => new Float32Array(l.length));
      const tpl = descriptorTensors(desc);
      try {
        await kept.forEachChunk(async (maps, done) => {
          const points = await this.matchOne(tpl, maps);
          const chunkSums = tf.tidy(() => maps.map((m, i) => {
            const level = i + 1;
            const [n, H, W, L] = m.shape;
            const idx = new Int32Array(n * K);
            points.forEach((row, b) => row.forEach((p, k) => (idx[b * K + k] = b * H * W + levelCellIndex(p, level, H, W))));
            const v = tf.gather(tf.reshape(m, [n * H * W, L]), tf.tensor1d(idx, 'int32')); // [n·K, L]
            const unit = tf.div(v, safeNorm(v, 1, true));
            return tf.sum(tf.reshape(unit, [n, K, L]), 0); // [K, L]
          }));
          try {
            for (const [i, t] of chunkSums.entries()) {
              const data = await t.data();
              const acc = sums[i]!;
              for (let j = 0; j < acc.length; j++) acc[j]! += data[j]!;
            }
          } finally {
            tf.dispose(chunkSums);
          }
          onChunk?.(r * pool.length + done, opts.rounds * pool.length);
        });
      } finally {
        tf.dispose(tpl);
      }
      desc = prototypeDescriptor(own, sums, opts.fromLevel);
    }
    return desc;
  }

  /**
   * Embeds `images` EMBED_BATCH at a time (a chunk of kept pool images is cut from `kept` instead),
   * matches each chunk against `desc`, hands (points, level maps, done) to `use`.
   */
  private async eachMatchedChunk(
    desc: TemplateDescriptor, images: readonly GrayImage[], use: (points: PointYX[][], maps: readonly tf.Tensor4D[], done: number) => Promise<void>, kept?: KeptPoolEmbeddings,
  ): Promise<void> {
    const tpl = descriptorTensors(desc);
    try {
      for (let start = 0; start < images.length; start += EMBED_BATCH) {
        const chunk = images.slice(start, start + EMBED_BATCH);
        const maps = kept?.mapsOf(chunk) ?? this.embedTensors(chunk, (i) => `image ${start + i}`);
        try {
          await use(await this.matchOne(tpl, maps), maps, start + chunk.length);
        } finally {
          tf.dispose(maps);
        }
        await yieldToEventLoop();
      }
    } finally {
      tf.dispose(tpl);
    }
  }

  private async matchOne(tpl: readonly tf.Tensor2D[], maps: readonly tf.Tensor4D[]): Promise<PointYX[][]> {
    const used = SSL_LEVELS.map((k) => k - 1);
    const prod = tf.tidy(() => cascadeSimilarity(used.map((i) => tpl[i]!), used.map((i) => maps[i]!), this.inputSize, this.inputSize));
    try {
      return await argmax2d(prod);
    } finally {
      prod.dispose();
    }
  }

  dispose(): void {
    this.net.dispose();
  }
}

/** Pseudo-labels (docs/method.md#matching): for every image, the matched [y, x] of every template landmark. */
export async function matchTemplate(input: MatchTemplateInput): Promise<PointYX[][]> {
  const { rounds, fromLevel } = prototypeSettingsOf(input.profile.ssl);
  if (rounds > 0 && input.pool === undefined) throw new Error(`matching: profile.ssl.prototypeRounds is ${rounds}, but no pool of training images was given`);
  const matcher = SslMatcher.create(input.profile, input.weights);
  try {
    return await matcher.matchWithPrototypes(input.template, input.templateLandmarks, input.pool ?? [], input.images, { rounds, fromLevel }, { onPoolChunk: input.onPoolChunk, onProgress: input.onProgress });
  } finally {
    matcher.dispose();
  }
}
