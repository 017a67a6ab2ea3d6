/**
 * Training profiles: every hyper-parameter of both stages, zod-validated and overridable field
 * by field. `paper` is the faithful v1 setting (docs/method.md#choices); `cpu` fits the whole pipeline
 * in ≤ 90 min on a 2-core CPU with the native backend; `quick` is the ~10-minute first run of
 * `npm start`; `smoke` runs in seconds for CI.
 */
import { z } from 'zod';
import { HEAT_LOSS_NORMS } from './types';
import { RefineProfileSchema, type RefineProfile } from './refine/config';

/** Matching without prototypes (the reference): what a profile stored before the fields existed means. */
export const PROTOTYPES_OFF = { prototypeRounds: 0, prototypeFromLevel: 2 } as const;

export const SslProfileSchema = z.object({
  /** Channel width multiplier of the VGG19-U-Net (1 = paper). */
  width: z.number().positive().max(1),
  embedDim: z.number().int().min(2).max(256),
  useRfb: z.boolean(),
  batchSize: z.number().int().min(1).max(64),
  steps: z.number().int().min(1),
  lr: z.number().positive(),
  /** Multiply lr by lrGamma every lrStepEvery steps. */
  lrStepEvery: z.number().int().min(1),
  lrGamma: z.number().positive().max(1),
  weightDecay: z.number().min(0),
  temperature: z.number().positive(),
  /** Side of the similarity window at levels 1–4 (the deepest level uses the whole map). */
  window: z.number().int().min(3),
  /** CC2Dv2 distance bias (not in the MICCAI paper). */
  distanceBias: z.boolean(),
  rotationDeg: z.number().min(0).max(45),
  brightness: z.number().min(0).max(1),
  contrast: z.number().min(0).max(1),
  checkpointEvery: z.number().int().min(1),
  /**
   * Prototype rounds of matching (docs/method.md#prototypes): 0 = the template's vectors only (the
   * reference); a profile stored before the field existed has 0.
   */
  prototypeRounds: z.number().int().min(0).max(5).default(PROTOTYPES_OFF.prototypeRounds),
  /** The coarsest levels from this one up use prototypes; finer levels keep the template's vectors. */
  prototypeFromLevel: z.number().int().min(1).max(5).default(PROTOTYPES_OFF.prototypeFromLevel),
});

export const TplProfileSchema = z.object({
  width: z.number().positive().max(1),
  /** Pseudo-labelled images per batch; the template (true labels) is always added. */
  batchPseudo: z.number().int().min(1).max(32),
  steps: z.number().int().min(1),
  lr: z.number().positive(),
  /** Steps at which lr is multiplied by lrGamma. */
  lrDecaySteps: z.array(z.number().int().min(1)),
  lrGamma: z.number().positive().max(1),
  weightDecay: z.number().min(0),
  /** Disk radius as a fraction of the input side (R = int(0.05·384) = 19 in the paper). */
  radiusFraction: z.number().positive().max(0.5),
  heatLossWeight: z.number().positive(),
  /** Heat loss = focal sum / element count ('pixels', reference) or / disk pixels ('positives'). */
  heatLossNorm: z.enum(HEAT_LOSS_NORMS).default('pixels'),
  checkpointEvery: z.number().int().min(1),
  /**
   * As refine.maxRoundTrip, for the TPL net: a pseudo-label whose round trip ends farther than
   * this (working-grid cells) from the template's landmark does not train it (ml/tpl/trainer.ts
   * labelMask). Absent or null = every pseudo-label trains.
   */
  maxRoundTrip: z.number().positive().nullable().optional(),
});

/**
 * Post-processing of the TPL predictions (ml/postprocess), applied by evaluation and predict;
 * no training stage reads it.
 */
export const PostprocessSchema = z.object({
  /** Test-time augmentation: also predict under each scale, ±shift along y and x, and rotation; combine by a confidence-weighted median. */
  tta: z.object({
    enabled: z.boolean(),
    scales: z.array(z.number().min(0.5).max(2)),
    /** Shifts as a fraction of the input side (rounded to whole cells, at least 1). */
    shiftFractions: z.array(z.number().positive().max(0.25)),
    rotationsDeg: z.array(z.number().min(-30).max(30)),
  }).strict(),
  /** Statistical shape model from the template and the pseudo-labels; replaces landmarks far from the fitted shape. */
  shapePrior: z.object({
    enabled: z.boolean(),
    varianceKept: z.number().positive().max(1),
    maxModes: z.number().int().min(0).max(64),
    /** Share of the (pseudo-labelled) shapes with the largest robust residual left out of the model. */
    trimFraction: z.number().min(0).max(0.5),
    /** Residual to the fitted shape above which a landmark is replaced, as a fraction of the input side. */
    replaceResidualFraction: z.number().positive().max(1),
    /** Mode coefficients clamped to ± this many standard deviations. */
    maxSd: z.number().positive(),
    iterations: z.number().int().min(1).max(100),
  }).strict(),
}).strict();

export type PostprocessProfile = z.infer<typeof PostprocessSchema>;

/** Both levers off, with the settings measured in docs/accuracy.md ready to switch on. */
export const POSTPROCESS_OFF: PostprocessProfile = {
  tta: { enabled: false, scales: [0.9, 1.1], shiftFractions: [1 / 64], rotationsDeg: [-4, 4] },
  shapePrior: { enabled: false, varianceKept: 0.95, maxModes: 12, trimFraction: 0.1, replaceResidualFraction: 1 / 48, maxSd: 3, iterations: 10 },
};

export const ProfileSchema = z.object({
  name: z.string().min(1),
  /** Working resolution: images are resized to inputSize × inputSize (aspect not kept). */
  inputSize: z.number().int().min(32).max(1024).refine((s) => s % 32 === 0, 'inputSize must be a multiple of 32'),
  ssl: SslProfileSchema,
  tpl: TplProfileSchema,
  /** Absent in profiles stored before it existed: both levers off. */
  postprocess: PostprocessSchema.default(POSTPROCESS_OFF),
  /** Full-resolution refinement after TPL (ml/refine); absent = off. */
  refine: RefineProfileSchema.optional(),
}).strict();

export type SslProfile = z.infer<typeof SslProfileSchema>;
export type TplProfile = z.infer<typeof TplProfileSchema>;
export type Profile = z.infer<typeof ProfileSchema>;

/** A profile's post-processing; a profile stored (and cast, not parsed) before the field existed has both levers off. */
export function postprocessOf(profile: Pick<Profile, 'postprocess'> | { postprocess?: PostprocessProfile }): PostprocessProfile {
  return profile.postprocess ?? POSTPROCESS_OFF;
}
export type ProfileName = 'paper' | 'cpu' | 'quick' | 'smoke';

const PAPER: Profile = {
  name: 'paper',
  inputSize: 384,
  ssl: {
    width: 1, embedDim: 16, useRfb: true, batchSize: 8,
    // Final code: 300 epochs × 206 iterations, lr halved every 50 epochs.
    steps: 61_800, lr: 1e-3, lrStepEvery: 10_300, lrGamma: 0.5, weightDecay: 1e-4,
    temperature: 0.1, window: 19, distanceBias: false,
    rotationDeg: 20, brightness: 0.15, contrast: 0.25, checkpointEvery: 2_060,
    ...PROTOTYPES_OFF,
  },
  tpl: {
    width: 1, batchPseudo: 3,
    // 90 epochs of 1500 samples in batches of 3 (+ template), lr ×0.1 every 30 epochs.
    steps: 45_000, lr: 3e-4, lrDecaySteps: [15_000, 30_000], lrGamma: 0.1, weightDecay: 1e-4,
    radiusFraction: 0.05, heatLossWeight: 2, heatLossNorm: 'pixels', checkpointEvery: 1_500,
  },
  postprocess: POSTPROCESS_OFF,
};

/**
 * The refinement settings measured on the quick run's artifacts (docs/accuracy.md): what an
 * `overrides.refine` switches on, field by field overridable; on in `cpu` and `quick`.
 */
export const REFINE_DEFAULTS: RefineProfile = {
  inputSize: 384, patch: 64, channels: 16, landmarkMode: 'heads', batch: 32, steps: 800,
  lr: 1e-3, lrDecaySteps: [600], lrGamma: 0.1, weightDecay: 1e-4, jitter: 20, sigma: 1.5, passes: 1, checkpointEvery: 200,
};

// Budget (measured on the 2-core project machine, AMD EPYC, native backend, 2026-12-01): a whole
// fresh run took 55 min, inside 90 min: SSL 6500 steps 2861 s (0.44 s/step), pseudo-labels 4-7 s
// per shard, TPL 301 s for 1500 steps (image loading included), refinement 98 s, evaluation 23 s
// (README "Results"; other sessions measured SSL at 0.46-0.50 s/step). 4000 SSL steps instead of
// 2000 (lr halved at ~35 % of the run, as in 2000) cut the pseudo-label error on the training
// images (the validation set) on each of three seeds (5.16 → 4.14, 4.77 → 4.39, 4.31 → 3.82 mm;
// README "Results").
// TPL: the heat loss is normalised by the disk pixels ('positives'): with the reference's pixel
// mean the heatmap head did not learn in 1200 steps (final MRE 72 mm, README); with 'positives'
// 300 steps already gave 5.3 mm. One lr cut at 2/3 of the run (docs/method.md#dev-heat-prior).
const CPU: Profile = {
  name: 'cpu',
  inputSize: 192,
  ssl: {
    // 6500 steps, lr still halved every 1400 (the last halving at 5600): on the training images (the
    // validation set) the pseudo-label error with prototypes fell 3.74 → 3.55 → 3.52 mm from 4000 to
    // 5500 to 6500 steps (docs/accuracy.md#ssl-steps).
    ...PAPER.ssl, width: 0.25, steps: 6_500, lrStepEvery: 1_400, checkpointEvery: 200,
    // Two prototype rounds from level 2 cut the pseudo-label error on the training images on each
    // of three seeds (docs/accuracy.md#prototypes); the pool is embedded once, so matching 150
    // images costs 3.9 s with them (README "Benchmarks").
    prototypeRounds: 2, prototypeFromLevel: 2,
  },
  tpl: {
    ...PAPER.tpl, width: 0.25, steps: 1_500, lrDecaySteps: [1_000], heatLossNorm: 'positives', checkpointEvery: 250,
  },
  // The two levers that paid on the training images (docs/accuracy.md), as in `quick`.
  postprocess: { ...POSTPROCESS_OFF, shapePrior: { ...POSTPROCESS_OFF.shapePrior, enabled: true } },
  // A refined point more than 15 fine px (≈ 8 mm) from the TPL point keeps the TPL point: on held-out
  // training images of three seeds it cut the MRE by 0.06-0.10 mm and the errors > 10 mm by a third
  // (docs/accuracy.md#held-out). `quick` keeps no limit until its README numbers are measured again.
  // The refiner does not train on pseudo-labels whose round trip ends > 2 cells from the template
  // landmark: held out −0.22 mm B (seed 2022), Test1 −0.20 / −0.26 mm B on seeds 2022 / 7 here and
  // −0.02 to −0.54 mm B on all three seeds of `quick` (docs/accuracy.md#round-trip).
  refine: { ...REFINE_DEFAULTS, maxMove: 15, maxRoundTrip: 2 },
};

/**
 * The first run a new user sees (`npm start`): the cpu profile's shapes with an eighth of the
 * SSL steps cpu had until 2026-12-01 (4000) and a fifth of its TPL steps: the whole pipeline took
 * 5 min 40 s on two cores. The same lr schedule shape as that cpu profile (SSL halves every ~35 % of
 * the run; TPL cut ×0.1 at 2/3).
 * Shape prior on: on this profile's model it cut the validation MRE from 6.30 to 5.33 mm and the
 * > 10 mm outliers from 12.9 % to 8.9 % (cross-fitted, docs/accuracy.md) for a few ms per image;
 * TTA stays off (0.15 mm more for 9× the inference time). Full-resolution refinement on: on the
 * same model it cut the MRE of held-out training images from 6.82 to 5.52 mm (docs/accuracy.md).
 */
const QUICK: Profile = {
  name: 'quick',
  inputSize: 192,
  // No prototype rounds yet: the README's quick-start and template numbers were measured without them.
  ssl: { ...CPU.ssl, steps: 500, lrStepEvery: 175, checkpointEvery: 100, prototypeRounds: 0 },
  tpl: { ...CPU.tpl, steps: 300, lrDecaySteps: [200], checkpointEvery: 100 },
  postprocess: CPU.postprocess,
  // The round-trip filter as in `cpu`: Test1 better on each of three seeds (docs/accuracy.md#round-trip).
  refine: { ...REFINE_DEFAULTS, maxRoundTrip: 2 },
};

const SMOKE: Profile = {
  name: 'smoke',
  inputSize: 64,
  ssl: {
    ...PAPER.ssl, width: 0.0625, embedDim: 8, useRfb: false, batchSize: 2, steps: 12, lrStepEvery: 6, window: 7, checkpointEvery: 4,
    prototypeRounds: 2,
  },
  tpl: {
    ...PAPER.tpl, width: 0.0625, batchPseudo: 1, steps: 8, lrDecaySteps: [6], radiusFraction: 0.1, checkpointEvery: 4,
  },
  postprocess: POSTPROCESS_OFF,
};

export const PROFILES: Readonly<Record<ProfileName, Profile>> = { paper: PAPER, cpu: CPU, quick: QUICK, smoke: SMOKE };

/** Every profile's input size, ascending: what one dataset version serving all profiles holds. */
export const PROFILE_INPUT_SIZES: readonly number[] = [...new Set(Object.values(PROFILES).map((p) => p.inputSize))].sort((a, b) => a - b);


export type ProfileOverrides = {
  inputSize?: number;
  ssl?: Partial<SslProfile>;
  tpl?: Partial<TplProfile>;
  postprocess?: { tta?: Partial<PostprocessProfile['tta']>; shapePrior?: Partial<PostprocessProfile['shapePrior']> };
  /** Switches refinement on: these fields over the profile's own refine settings or REFINE_DEFAULTS. */
  refine?: Partial<RefineProfile>;
};

/** A named profile with field-by-field overrides, validated; errors name the field. */
export function resolveProfile(name: string, overrides: ProfileOverrides = {}): Profile {
  const base = (PROFILES as Record<string, Profile | undefined>)[name];
  if (!base) throw new Error(`profile: unknown profile "${name}" (expected one of ${Object.keys(PROFILES).join(', ')})`);
  const merged = {
    ...base,
    ...(overrides.inputSize !== undefined ? { inputSize: overrides.inputSize } : {}),
    ssl: { ...base.ssl, ...overrides.ssl },
    tpl: { ...base.tpl, ...overrides.tpl },
    postprocess: {
      tta: { ...base.postprocess.tta, ...overrides.postprocess?.tta },
      shapePrior: { ...base.postprocess.shapePrior, ...overrides.postprocess?.shapePrior },
    },
    ...(overrides.refine !== undefined ? { refine: { ...(base.refine ?? REFINE_DEFAULTS), ...overrides.refine } } : base.refine ? { refine: base.refine } : {}),
  };
  const parsed = ProfileSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`profile.${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}
