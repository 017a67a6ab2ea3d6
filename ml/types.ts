/**
 * Plain data that crosses the ml/ boundary. Images are single-channel float32 in [0, 1],
 * row-major, at the working resolution; points are [y, x] cells on that grid (CC2D's
 * convention, docs/method.md#preprocessing).
 */
export interface GrayImage {
  height: number;
  width: number;
  data: Float32Array;
}

/** [y, x] on the working grid. */
export type PointYX = [number, number];

export interface TrainProgress {
  step: number;
  totalSteps: number;
  loss: number;
  lr: number;
  /** Named loss parts (e.g. per level, heatmap vs offsets). */
  parts: Record<string, number>;
}

/** A resumable training run. Full state (weights, optimizer, PRNG, step) is in `checkpoint()`. */
export interface Trainer {
  readonly step: number;
  readonly totalSteps: number;
  /** Runs up to `n` more steps (never past totalSteps); returns the progress after the last. */
  train(n: number, onStep?: (p: TrainProgress) => void): Promise<TrainProgress>;
  checkpoint(): Promise<Uint8Array>;
  /** Inference weights (no optimizer state). */
  exportWeights(): Promise<Uint8Array>;
  dispose(): void;
}

/** How the TPL heat loss sum is normalised: by the element count (reference) or by the disk pixels. */
export const HEAT_LOSS_NORMS = ['pixels', 'positives'] as const;
export type HeatLossNorm = (typeof HEAT_LOSS_NORMS)[number];
