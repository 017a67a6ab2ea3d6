/**
 * What `renderRunReport` needs: small JSON (lineage, per-image errors, loss logs) plus the few
 * radiographs shown as overlays (best / median / worst test image). Validated with zod at the
 * edge (`parseRunReportInput`), so a malformed input fails naming the field.
 *
 * Conventions:
 * - Errors are radial errors in `unit` (mm, or original-image pixels when a scored image has no
 *   pixel spacing), one per landmark, per test image, per protocol. The report
 *   derives every number (MRE, SD, SDR, per-landmark rows, SDR curve) from them, with SDR(r) =
 *   percent of errors STRICTLY below r (ml/metrics, as the evaluator stores it), so its tables agree with the evaluator's.
 * - Points are [y, x] on the grid named by `grid` (CC2D's convention, e.g. the 384 working grid).
 * - Split keys: `test1`, `test2`, `test1+test2` (displayed as Test1, Test2, Test1+Test2); any
 *   other key is shown as given.
 */
import { z } from 'zod';
import { BackendRefSchema, ContinuedFromSchema, ImageFormatSchema, LeftOutLabelsSchema, LossLogSchema, LossPointSchema, type LossLog, type LossPoint } from '../../contracts/documents';

const finiteNonNeg = z.number().min(0).max(1e6);

export { LossLogSchema, LossPointSchema, type LossLog, type LossPoint };

export const ImageErrorsSchema = z
  .object({
    id: z.string().min(1).max(128),
    /** Radial error (mm) per landmark, in landmark order. */
    errorsMm: z.array(finiteNonNeg).min(1),
  })
  .strict();
export type ImageErrors = z.infer<typeof ImageErrorsSchema>;

export const SetErrorsSchema = z
  .object({
    /** `test1`, `test2`, `test1+test2` or another split name. */
    split: z.string().min(1).max(64),
    images: z.array(ImageErrorsSchema).min(1),
  })
  .strict();
export type SetErrors = z.infer<typeof SetErrorsSchema>;

export const ProtocolErrorsSchema = z
  .object({
    /** A = paper protocol (384 grid), B = clean full resolution (docs/method.md#protocol-a, #protocol-b). */
    protocol: z.enum(['A', 'B']),
    sets: z.array(SetErrorsSchema).min(1),
  })
  .strict();
export type ProtocolErrors = z.infer<typeof ProtocolErrorsSchema>;

const YxSchema = z.tuple([z.number(), z.number()]);

export const OverlaySchema = z
  .object({
    /** best / median / worst by image MRE; `sample`: predicted points of an image without ground truth shown. */
    case: z.enum(['best', 'median', 'worst', 'sample']),
    id: z.string().min(1).max(128),
    split: z.string().min(1).max(64),
    protocol: z.enum(['A', 'B']),
    /** Absent for a `sample` (nothing scored). */
    imageMreMm: finiteNonNeg.optional(),
    /** The frame of `predictedYx` / `truthYx` (e.g. the 384×384 working grid). */
    grid: z.object({ height: z.number().positive(), width: z.number().positive() }).strict(),
    /** Width / height of the ORIGINAL radiograph, so a square working image is shown undistorted. */
    displayAspect: z.number().positive().max(10),
    predictedYx: z.array(YxSchema).min(1),
    /** Empty for a `sample`. */
    truthYx: z.array(YxSchema),
    /** PNG or JPEG bytes of the radiograph (any size; resized for display). */
    image: z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.byteLength > 0, { message: 'must be non-empty PNG or JPEG bytes (Uint8Array)' }),
  })
  .strict()
  .refine((o) => (o.case === 'sample' ? o.truthYx.length === 0 : o.predictedYx.length === o.truthYx.length), {
    message: 'truthYx must have one point per predicted point (none for a sample)',
    path: ['truthYx'],
  });
export type Overlay = z.infer<typeof OverlaySchema>;

export const ArtifactRowSchema = z
  .object({ name: z.string(), key: z.string(), sha256: z.string(), size: z.number().int().min(0) })
  .strict();

export const StageTimingSchema = z.object({ stage: z.string(), startedAt: z.string(), endedAt: z.string() }).strict();

export const LineageSchema = z
  .object({
    datasetVersion: z.string().min(1),
    datasetReused: z.boolean().optional(),
    configHash: z.string().min(1),
    /** Git commit (plus "-dirty") or package version of the code that ran. */
    codeVersion: z.string().min(1),
    backend: BackendRefSchema.strict(),
    /** Named seeds, e.g. { run: 2022 } or { ssl: 2022, tpl: 2022 }. */
    seeds: z.record(z.string(), z.number().int()),
    templateId: z.string().min(1),
    /** Format of the source images: the project copy is a JPEG re-encode, the official release BMP. */
    imageFormat: z.union([ImageFormatSchema, z.literal('mixed')]),
    backboneInit: z.enum(['from scratch', 'user-supplied']),
    /** Name or hash of user-supplied backbone weights. */
    backboneWeights: z.string().optional(),
    profile: z.string(),
    site: z.string(),
    inputSize: z.number().int().positive(),
    /** The dataset's one spacing, or null when it varies per image or is unknown. */
    pixelSpacingMm: z.number().positive().nullable(),
    trainIds: z.array(z.string()),
    /** Test split → ids actually evaluated. */
    testIdsCovered: z.record(z.string(), z.array(z.string())),
    /** Requested splits the dataset does not have. */
    missingTestSplits: z.array(z.string()).default([]),
    scheduleId: z.string().optional(),
    /** Stages reused from an earlier published run (stage cache): stage → that run's id. */
    reusedFrom: z.record(z.string(), z.string()).optional(),
    /** SSL started from this earlier run's checkpoint (stage-cache continuation; the same weights as from step 0). */
    sslContinuedFrom: ContinuedFromSchema.optional(),
    /** The validated run config and resolved profile, shown as JSON. */
    config: z.unknown().optional(),
    artifacts: z.array(ArtifactRowSchema).default([]),
    timings: z.array(StageTimingSchema).default([]),
  })
  .strict();
export type Lineage = z.infer<typeof LineageSchema>;

/** One predicted image: its landmarks in original pixels and, when known, its pixel spacing. */
export const PredictedImageSchema = z
  .object({
    id: z.string().min(1).max(128),
    split: z.string().min(1).max(64),
    /** [x, y] original pixels per landmark. */
    xyPx: z.array(YxSchema).min(1),
    spacingMm: z.number().positive().nullable(),
  })
  .strict();
export type PredictedImage = z.infer<typeof PredictedImageSchema>;

/** The promotion gate's decision on the run (taken just before the run was published). */
export const PromotionSchema = z
  .object({
    site: z.string().min(1).max(64),
    outcome: z.enum(['promoted', 'kept', 'skipped']),
    reason: z.string().max(2000),
    decidedAt: z.string().optional(),
    /** The champion compared against (absent when the site had none). */
    championBefore: z.string().max(512).optional(),
    /** MREs of the run and of that champion on the evaluation images both scored. */
    candidateMre: z.number().optional(),
    championMre: z.number().optional(),
    comparedImages: z.number().int().nonnegative().optional(),
  })
  .strict();
export type Promotion = z.infer<typeof PromotionSchema>;

export const RunReportInputSchema = z
  .object({
    runId: z.string().min(1).max(512),
    /** ISO time the report was produced. */
    createdAt: z.string().min(1),
    lineage: LineageSchema,
    /** The dataset's names; without them, the ISBI names for 19 landmarks, else L1…LK. */
    landmarkNames: z.array(z.string()).optional(),
    /** Which importer published the dataset: the paper's reference numbers are shown for ISBI only. */
    datasetKind: z.enum(['isbi2015', 'site']).default('isbi2015'),
    /** What every error is in: mm, or px when some scored image has no pixel spacing. */
    unit: z.enum(['mm', 'px']).default('mm'),
    /** Empty when no labelled evaluation image exists: the report then shows predictions only. */
    metrics: z.array(ProtocolErrorsSchema).default([]),
    /**
     * The SSL stage alone (CC2D-SSL: cascade matching from the template, no TPL) on the test
     * images, same layout as `metrics`; absent when the run did not evaluate it.
     */
    sslMetrics: z.array(ProtocolErrorsSchema).min(1).optional(),
    losses: z.object({ ssl: LossLogSchema.optional(), tpl: LossLogSchema.optional(), refine: LossLogSchema.optional() }).strict().default({}),
    /** Pseudo-label errors (vs ground truth) on the training images, where ground truth exists. */
    pseudoLabels: z
      .object({
        protocol: z.enum(['A', 'B']),
        /** The template itself is excluded by the renderer (its error is 0 by construction). */
        images: z.array(ImageErrorsSchema),
      })
      .strict()
      .optional(),
    overlays: z.array(OverlaySchema).max(12).default([]),
    /** Predicted landmarks per image (the table of predictions); optional. */
    predictions: z.array(PredictedImageSchema).default([]),
    /** Absent when the gate did not run in the report stage (e.g. `cc2d report` of an older run). */
    promotion: PromotionSchema.optional(),
    /** The pseudo-labels the refiner did not train on (profile `refine.maxRoundTrip`); absent without the limit. */
    refineLeftOutLabels: LeftOutLabelsSchema.optional(),
    /** The pseudo-labels the TPL net did not train on (profile `tpl.maxRoundTrip`); absent without the limit. */
    tplLeftOutLabels: LeftOutLabelsSchema.optional(),
  })
  .strict()
  .refine((r) => r.metrics.length > 0 || r.predictions.length > 0, { message: 'needs metrics or predictions', path: ['metrics'] });

/** What callers build (defaults optional). */
export type RunReportInput = z.input<typeof RunReportInputSchema>;
/** After validation. */
export type RunReportData = z.output<typeof RunReportInputSchema>;

/** Validates `raw`; throws an Error naming every bad field. */
export function parseRunReportInput(raw: unknown): RunReportData {
  const parsed = RunReportInputSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.slice(0, 20).map((i) => `report.${i.path.map(String).join('.')}: ${i.message}`);
    throw new Error(`invalid run report input:\n  - ${lines.join('\n  - ')}`);
  }
  return parsed.data;
}
