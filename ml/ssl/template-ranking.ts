/**
 * Which image of a site to label as the one template, from the self-supervised embeddings alone
 * (no labels). Every image is embedded once (`SslMatcher.embed`); the bank keeps all levels as
 * stacked tensors so that the N×(N−1) matches of the cycle score need no re-embedding.
 *
 * Two label-free scores:
 * - medoid: mean cosine similarity of an image's pooled embedding (each level's spatial mean,
 *   L2-normalised, levels weighted equally) to every other image's; higher = more typical.
 * - cycle: a grid of points of the candidate is matched into every other image by cascade
 *   matching (as pseudo-labelling matches landmarks) and matched back; the score is the mean
 *   round-trip distance in working-grid cells; lower = its points are found reliably.
 *
 * A bank built from embeddings of batch-of-one forwards gives the points `SslMatcher` gives up to
 * float rounding of the batched matmul (ties in the arg-max could in principle differ).
 */
import * as tf from '@tensorflow/tfjs';
import type { GrayImage, PointYX } from '../types';
import { yieldToEventLoop } from '../core/async';
import { argmax2d, cascadeSimilarity, levelCellIndex, type ImageEmbeddings, type SslMatcher } from './matching';

export const TEMPLATE_SCORES = ['cycle', 'medoid'] as const;
export type TemplateScoreName = (typeof TEMPLATE_SCORES)[number];

/** The score `cc2d site suggest-template` ranks by (chosen by bench/profiling/template-sweep.ts on ISBI). */
export const SUGGEST_SCORE: TemplateScoreName = 'cycle';

/** How each score is computed, in words (stored with a ranking). */
export const TEMPLATE_SCORE_METHODS: Readonly<Record<TemplateScoreName, string>> = {
  medoid: 'mean cosine similarity of the pooled SSL embedding (per-level spatial mean, L2-normalised) to every other image; higher is better',
  cycle: 'grid points cascade-matched into partner images and back; mean round-trip distance in working-grid cells; lower is better',
};

/** Whether a higher value of the score means a better template. */
export const HIGHER_IS_BETTER: Readonly<Record<TemplateScoreName, boolean>> = { cycle: false, medoid: true };

/**
 * Partners per candidate in the cycle score: N·P·2 matches instead of N²·2 keeps a large site's
 * ranking linear in its size (150 ISBI images: 150·32·2 matches).
 */
export const DEFAULT_CYCLE_PARTNERS = 32;

/** Images per batched matching call: bounds the [n, S, S, K] product maps. */
const MATCH_CHUNK = 16;

/** `side`×`side` points at the centres of a grid over the central 3/4 of an S×S image (borders carry little). */
export function cycleGrid(inputSize: number, side: number): PointYX[] {
  if (!(Number.isInteger(side) && side >= 1)) throw new Error(`cycleGrid: side must be a positive integer, got ${side}`);
  const lo = inputSize / 8;
  const step = (inputSize * 3) / 4 / side;
  const pts: PointYX[] = [];
  for (let i = 0; i < side; i++) for (let j = 0; j < side; j++) pts.push([Math.floor(lo + (i + 0.5) * step), Math.floor(lo + (j + 0.5) * step)]);
  return pts;
}

/** Every image's embedding maps as stacked tensors per level, [N, Hk, Wk, L] (index level − 1). */
export class EmbeddingBank {
  private constructor(private readonly levels: tf.Tensor4D[], readonly count: number, readonly inputSize: number) {}

  static create(embeddings: readonly ImageEmbeddings[]): EmbeddingBank {
    if (embeddings.length === 0) throw new Error('EmbeddingBank: no embeddings');
    const first = embeddings[0]!;
    embeddings.forEach((e, n) => {
      if (e.inputSize !== first.inputSize || e.levels.length !== first.levels.length
        || e.levels.some((l, i) => l.height !== first.levels[i]!.height || l.width !== first.levels[i]!.width || l.dim !== first.levels[i]!.dim)) {
        throw new Error(`EmbeddingBank: embeddings ${n} differ in shape from embeddings 0`);
      }
    });
    const levels = first.levels.map((l, i) => {
      const data = new Float32Array(embeddings.length * l.data.length);
      embeddings.forEach((e, n) => data.set(e.levels[i]!.data, n * l.data.length));
      return tf.tensor4d(data, [embeddings.length, l.height, l.width, l.dim]);
    });
    return new EmbeddingBank(levels, embeddings.length, first.inputSize);
  }

  get levelCount(): number {
    return this.levels.length;
  }

  private checkIndex(n: number): void {
    if (!(Number.isInteger(n) && n >= 0 && n < this.count)) throw new Error(`EmbeddingBank: index ${n} outside 0..${this.count - 1}`);
  }

  /** Vectors [K, L] per level of image `n` at `points` (cell (y >> k, x >> k), clamped, as matching describes a template). */
  describe(n: number, points: readonly PointYX[]): tf.Tensor2D[] {
    this.checkIndex(n);
    return tf.tidy(() => this.levels.map((m, i) => {
      const [, H, W, L] = m.shape;
      const level = i + 1;
      const idx = new Int32Array(points.map((p) => n * H * W + levelCellIndex(p, level, H, W)));
      return tf.gather(tf.reshape(m, [-1, L]), tf.tensor1d(idx, 'int32')) as tf.Tensor2D;
    }));
  }

  /** Cascade-matches the described points into each image of `targets`: [y, x] per target and point. */
  async match(desc: readonly tf.Tensor2D[], targets: readonly number[]): Promise<PointYX[][]> {
    targets.forEach((t) => this.checkIndex(t));
    const out: PointYX[][] = [];
    for (let i = 0; i < targets.length; i += MATCH_CHUNK) {
      const idx = targets.slice(i, i + MATCH_CHUNK);
      const maps = tf.tidy(() => {
        const sel = tf.tensor1d(idx, 'int32');
        return cascadeSimilarity(desc, this.levels.map((l) => tf.gather(l, sel) as tf.Tensor4D), this.inputSize, this.inputSize);
      });
      try {
        out.push(...(await argmax2d(maps)));
      } finally {
        maps.dispose();
      }
      await yieldToEventLoop();
    }
    return out;
  }

  /** Mean over images of the pooled embedding: [N, levels·L], each level's part L2-normalised. */
  pooled(): tf.Tensor2D {
    return tf.tidy(() => tf.concat(this.levels.map((l) => {
      const mean = tf.mean(l, [1, 2]) as tf.Tensor2D;
      return tf.div(mean, tf.add(tf.norm(mean, 'euclidean', 1, true), 1e-12));
    }), 1) as tf.Tensor2D);
  }

  dispose(): void {
    tf.dispose(this.levels);
  }
}

/** Mean cosine similarity of each image's pooled embedding to all others' (needs ≥ 2 images). */
export async function medoidScores(bank: EmbeddingBank): Promise<number[]> {
  if (bank.count < 2) throw new Error('medoidScores: needs at least 2 images');
  const levelCount = bank.levelCount;
  const sums = tf.tidy(() => {
    const p = bank.pooled();
    // Each level's part has norm 1, so the dot product / levels is the mean per-level cosine.
    const gram = tf.div(tf.matMul(p, p, false, true), levelCount);
    return tf.sub(tf.sum(gram, 1), tf.div(tf.sum(tf.square(p), 1), levelCount));
  });
  try {
    return Array.from(await sums.data(), (s) => s / (bank.count - 1));
  } finally {
    sums.dispose();
  }
}

export interface CycleOptions {
  /** Points per side of the candidate's grid (default 5: 25 points). */
  gridSide?: number;
  /** Partners per candidate (default DEFAULT_CYCLE_PARTNERS, at most all others), spread evenly over the other images. */
  partners?: number;
  /** After each candidate: (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Before each candidate (e.g. throws when cancelled). */
  beforeCandidate?: () => void;
  /** After every batched matching call (a liveness hook: a candidate of a large profile takes a while). */
  onMatched?: () => void;
}

/**
 * Cycle consistency of every image as a template: its grid matched into each partner and the
 * matched points matched back; mean Euclidean round-trip distance in working-grid cells.
 */
export async function cycleScores(bank: EmbeddingBank, opts: CycleOptions = {}): Promise<number[]> {
  const N = bank.count;
  if (N < 2) throw new Error('cycleScores: needs at least 2 images');
  const grid = cycleGrid(bank.inputSize, opts.gridSide ?? 5);
  const partnerCount = Math.min(opts.partners ?? DEFAULT_CYCLE_PARTNERS, N - 1);
  if (!(Number.isInteger(partnerCount) && partnerCount >= 1)) throw new Error(`cycleScores: partners must be a positive integer, got ${opts.partners}`);
  const scores: number[] = [];
  for (let c = 0; c < N; c++) {
    opts.beforeCandidate?.();
    const partners = Array.from({ length: partnerCount }, (_, j) => (c + 1 + Math.floor((j * (N - 1)) / partnerCount)) % N);
    const desc = bank.describe(c, grid);
    let forward: PointYX[][];
    try {
      forward = await bank.match(desc, partners);
      opts.onMatched?.();
    } finally {
      tf.dispose(desc);
    }
    let total = 0;
    for (let i = 0; i < partners.length; i += MATCH_CHUNK) {
      // The chunk's partners' descriptors side by side as one set of landmarks, matched back into c at once.
      const group = partners.slice(i, i + MATCH_CHUNK);
      const back = tf.tidy(() => {
        const parts = group.map((p, g) => bank.describe(p, forward[i + g]!));
        return parts[0]!.map((_, level) => tf.concat(parts.map((d) => d[level]!), 0) as tf.Tensor2D);
      });
      let pts: PointYX[];
      try {
        pts = (await bank.match(back, [c]))[0]!;
        opts.onMatched?.();
      } finally {
        tf.dispose(back);
      }
      pts.forEach(([y, x], k) => {
        const [gy, gx] = grid[k % grid.length]!;
        total += Math.hypot(y - gy, x - gx);
      });
    }
    scores.push(total / (partners.length * grid.length));
    opts.onProgress?.(c + 1, N);
  }
  return scores;
}

export interface RankedTemplate {
  /** Index into the bank's images. */
  index: number;
  /** 1 = best. */
  rank: number;
  score: number;
}

/** Images ordered best first by `scores` (ties: lower index first). */
export function rankByScore(scores: readonly number[], higherIsBetter: boolean): RankedTemplate[] {
  scores.forEach((s, i) => {
    if (!Number.isFinite(s)) throw new Error(`rankByScore: score ${i} is not finite: ${s}`);
  });
  const order = scores.map((score, index) => ({ index, score }));
  order.sort((a, b) => (higherIsBetter ? b.score - a.score : a.score - b.score) || a.index - b.index);
  return order.map((o, i) => ({ ...o, rank: i + 1 }));
}

/**
 * Embeds `count` images, loaded `chunk` at a time by `load(start, end)` (only the embeddings are
 * kept), into a bank. `onProgress(done, count)` after each chunk.
 */
export async function embedIntoBank(
  matcher: SslMatcher,
  count: number,
  load: (start: number, end: number) => Promise<GrayImage[]>,
  onProgress?: (done: number, total: number) => void,
  chunk = 16,
): Promise<EmbeddingBank> {
  const embeddings: ImageEmbeddings[] = [];
  for (let i = 0; i < count; i += chunk) {
    // embedMany: EMBED_BATCH images per forward pass (embed() alone pads one image to a full pass).
    embeddings.push(...(await matcher.embedMany(await load(i, Math.min(count, i + chunk)))));
    onProgress?.(embeddings.length, count);
  }
  return EmbeddingBank.create(embeddings);
}

/** Every label-free score of every image of the bank (see the file header). */
export async function templateScores(bank: EmbeddingBank, cycle: CycleOptions = {}): Promise<Record<TemplateScoreName, number[]>> {
  const medoid = await medoidScores(bank);
  return { medoid, cycle: await cycleScores(bank, cycle) };
}
