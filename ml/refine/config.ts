/**
 * Settings of the full-resolution refinement stage: a small patch network that looks at a finer
 * working image around each coarse (TPL) landmark and points to the landmark inside the patch.
 * Absent from a profile = the stage is off.
 */
import { z } from 'zod';

export const REFINE_LANDMARK_MODES = ['shared', 'heads'] as const;
export type RefineLandmarkMode = (typeof REFINE_LANDMARK_MODES)[number];

export const RefineProfileSchema = z.object({
  /** Side of the finer working grid the patches are cut from (a stored dataset size, e.g. 384). */
  inputSize: z.number().int().min(32).max(1024),
  /** Patch side in fine-grid pixels; a multiple of 8 (three 2× poolings). */
  patch: z.number().int().min(16).max(256).refine((s) => s % 8 === 0, 'patch must be a multiple of 8'),
  /** Channels of the first level (doubled at /2, ×4 at /4 and /8). */
  channels: z.number().int().min(2).max(64),
  /**
   * 'shared': one heatmap for all landmarks, the landmark id enters as a learnt bias of the first
   * layer; 'heads': one output channel per landmark over a shared trunk.
   */
  landmarkMode: z.enum(REFINE_LANDMARK_MODES),
  /** Patches per step. */
  batch: z.number().int().min(1).max(256),
  steps: z.number().int().min(1),
  lr: z.number().positive(),
  lrDecaySteps: z.array(z.number().int().min(1)),
  lrGamma: z.number().positive().max(1),
  weightDecay: z.number().min(0),
  /** Training patches are centred this far (fine pixels, uniform in a disc) from the label. */
  jitter: z.number().min(0),
  /** σ (fine pixels) of the Gaussian target the patch softmax is trained towards. */
  sigma: z.number().positive(),
  /** Refinement passes at prediction: each re-centres the patch on the previous answer. */
  passes: z.number().int().min(1).max(4),
  checkpointEvery: z.number().int().min(1),
  /**
   * A refined point that lands farther than this (fine pixels) from where refinement started keeps
   * its starting point: the refiner learnt from patches centred within `jitter` of the label, and
   * its long moves are mostly jumps to a look-alike structure. Absent = no limit.
   */
  maxMove: z.number().positive().optional(),
  /**
   * Pseudo-labels whose round trip (matched back into the template with the run's SSL network,
   * ml/ssl/round-trip.ts) ends farther than this (working-grid cells) from the template's own
   * landmark are left out of the refiner's training: on ISBI such labels are wrong by more, on
   * average, than those that come back close (docs/accuracy.md#round-trip). Absent or null = every
   * pseudo-label trains (null switches a profile's filter off: `--set overrides.refine.maxRoundTrip=null`).
   */
  maxRoundTrip: z.number().positive().nullable().optional(),
}).strict();

export type RefineProfile = z.infer<typeof RefineProfileSchema>;

/**
 * A point [y, x] in cell-index convention (cell i covers [i, i+1) of the continuous grid, the
 * convention of the working-grid labels and the TPL predictions) moved from a from×from grid to
 * a to×to grid, unrounded: (p + 0.5)·to/from − 0.5.
 */
export function rescalePoint(p: readonly [number, number], from: number, to: number): [number, number] {
  const r = to / from;
  return [(p[0] + 0.5) * r - 0.5, (p[1] + 0.5) * r - 0.5];
}
