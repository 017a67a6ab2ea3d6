/**
 * zod schemas of every JSON document the pipeline stores and reads back, read through one
 * helper (`readJson` in infra/storage/read-json.ts) that validates and names the key on failure.
 *
 * Objects that other documents embed or that may gain fields are `looseObject`s: unknown
 * members are kept, so a document read and written again (the report embeds the metrics) keeps
 * its content, and documents written by older code still parse. Shapes list the members in the
 * order their writers emit them, so a parsed document serialises to the same bytes.
 * NaN and ±Infinity are stored as null by JSON; numbers that may be non-finite are nullable.
 */
import { z } from 'zod';
import type { TrainOutput } from './types';

export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

/** A stored object: its key and the sha256 of its bytes (contracts/types.ts ArtifactRef). */
export const ArtifactRefSchema = z.object({ key: z.string().min(1), sha256: Sha256Schema, size: z.number().int().nonnegative() });

export const BackendRefSchema = z.object({ backend: z.string(), tfVersion: z.string(), tfjsVersion: z.string(), device: z.string().optional(), oneDnnOpts: z.string().optional() });

/** A number JSON may have stored as null (it was NaN or infinite); read back as NaN. */
const maybeNaN = z.number().nullable().transform((v) => v ?? Number.NaN);

const YxSchema = z.tuple([z.number(), z.number()]);
const YxListSchema = z.array(YxSchema);

// ---- generic JSON and the publish manifest ---------------------------------------------------

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValueSchema), z.record(z.string(), JsonValueSchema)]),
);

/**
 * `<prefix>/manifest.json` of a published set: a dataset version (meta.kind "dataset") or a
 * run's lineage manifest (meta.kind "cc2d-run"). Serialised canonically (infra/storage/manifest.ts).
 */
export const ManifestSchema = z
  .object({
    manifestVersion: z.literal(1),
    files: z.array(z.object({ key: z.string().min(1), sha256: Sha256Schema, size: z.number().int().nonnegative() }).strict()),
    meta: z.record(z.string(), JsonValueSchema),
  })
  .strict();
export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestEntry = Manifest['files'][number];

// ---- dataset version (datasets/<version>/) ------------------------------------------------------
//
// One published form for every importer: the ISBI 2015 layout (two doctors, 19 named landmarks,
// 0.1 mm, splits train/test1[/test2]) and a site folder (one annotator, K named landmarks taken
// from the template, spacing per image or unknown, splits train/eval). Coordinates: `…XyPx` are
// [x, y] in original-image pixels; `workingYx[S]` are [y, x] cells of the S×S working grid.

/** Split names: ISBI uses train, test1, test2; a site uses train (unlabelled + template) and eval. */
export const SplitNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be a split name such as train or test1');
export const ImageFormatSchema = z.enum(['jpeg', 'png', 'bmp', 'tiff', 'dicom']);
export type ImageFormatName = z.infer<typeof ImageFormatSchema>;

/** Where an image's pixel spacing came from; `isbi` is the ISBI importer's documented 0.1 mm. */
export const SpacingSourceSchema = z.enum(['isbi', 'dicom-PixelSpacing', 'dicom-ImagerPixelSpacing', 'spacing.csv', 'fixed']);
export type SpacingSource = z.infer<typeof SpacingSourceSchema>;

/** A dataset's spacing rule as a whole: one source for all images, mixed, or unknown for some/all. */
export const SpacingRuleSchema = z.enum(['isbi', 'dicom', 'fixed', 'csv', 'mixed', 'unknown']);
export type SpacingRule = z.infer<typeof SpacingRuleSchema>;

export const ImageLabelsSchema = z
  .looseObject({
    split: SplitNameSchema,
    widthPx: z.number().positive(),
    heightPx: z.number().positive(),
    sourceFormat: ImageFormatSchema,
    sourceSha256: z.string(),
    /** mm per original pixel (square pixels); null when no spacing is known (metrics then in px). */
    spacingMm: z.number().positive().nullable(),
    spacingSource: SpacingSourceSchema.nullable(),
    /** True when the image has ground truth (ISBI: every image; a site: the annotated ones). */
    labelled: z.boolean(),
    /** ISBI only: the two doctors' points, [x, y] original px. */
    seniorXyPx: YxListSchema.optional(),
    juniorXyPx: YxListSchema.optional(),
    /** Protocol A ground truth: ISBI int(0.5·(junior+senior)); a site floor(point). [x, y] px. */
    gtTruncXyPx: YxListSchema.optional(),
    /** Protocol B ground truth: ISBI 0.5·(junior+senior); a site the point as annotated. [x, y] px. */
    gtMeanXyPx: YxListSchema.optional(),
    /** Per working size S: [int(y·S/H), int(x·S/W)] of gtTruncXyPx. */
    workingYx: z.record(z.string(), YxListSchema).optional(),
  })
  .superRefine((l, ctx) => {
    if (l.labelled && (l.gtTruncXyPx === undefined || l.gtMeanXyPx === undefined || l.workingYx === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a labelled image needs gtTruncXyPx, gtMeanXyPx and workingYx' });
    }
    if ((l.spacingMm === null) !== (l.spacingSource === null)) {
      ctx.addIssue({ code: 'custom', message: 'spacingMm and spacingSource are both null or both set' });
    }
  });
export type ImageLabels = z.infer<typeof ImageLabelsSchema>;

export const LANDMARK_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _().'+-]{0,63}$/;
/** LANDMARK_NAME_PATTERN in words, for the messages that refuse a name. */
export const LANDMARK_NAME_RULE = "1-64 characters of A-Z, a-z, 0-9, space and _ ( ) . ' + -, starting with a letter or digit (no commas, slashes or accented letters)";

/** labels.json */
export const DatasetLabelsSchema = z
  .looseObject({
    format: z.literal('cc2d-labels-v2'),
    /** 0 only for a site version ingested before its template was chosen (images only). */
    landmarkCount: z.number().int().nonnegative(),
    /** K names, in the order of every point list (ISBI: the official 19; a site: the template's). */
    landmarkNames: z.array(z.string().regex(LANDMARK_NAME_PATTERN, `must be a landmark name: ${LANDMARK_NAME_RULE}`)),
    /** Ids in order (numeric for all-digit ids). */
    ids: z.array(z.string()),
    images: z.record(z.string(), ImageLabelsSchema),
  })
  .superRefine((d, ctx) => {
    if (d.landmarkNames.length !== d.landmarkCount) ctx.addIssue({ code: 'custom', path: ['landmarkNames'], message: `has ${d.landmarkNames.length} names for landmarkCount ${d.landmarkCount}` });
    if (new Set(d.landmarkNames).size !== d.landmarkNames.length) ctx.addIssue({ code: 'custom', path: ['landmarkNames'], message: 'names must be distinct' });
  });
export type DatasetLabels = z.infer<typeof DatasetLabelsSchema>;

/** split.json: split name → ids. */
export const DatasetSplitSchema = z.record(SplitNameSchema, z.array(z.string()));
export type DatasetSplit = z.infer<typeof DatasetSplitSchema>;

/** dataset.json */
export const DatasetDescriptionSchema = z.looseObject({
  format: z.string(),
  datasetVersion: z.string(),
  /** Which importer published it. */
  kind: z.enum(['isbi2015', 'site']),
  name: z.string(),
  landmarkNames: z.array(z.string()),
  landmarkCount: z.number().int().nonnegative(),
  /** The one spacing shared by every image, or null (mixed or unknown: see `spacing`). */
  pixelSpacingMm: z.number().positive().nullable(),
  spacing: SpacingRuleSchema,
  sizes: z.array(z.number().int().positive()),
  /** images = all; labelled = with ground truth; plus one count per split. */
  counts: z.looseObject({ images: z.number(), labelled: z.number() }).catchall(z.number()),
  splits: z.array(SplitNameSchema),
  /** Labelled ids per evaluation split (ISBI test1/test2, a site eval); an evaluation covers only these. */
  testIdsCovered: z.record(SplitNameSchema, z.array(z.string())),
  /** A site's template id (its annotation defines the landmark set); absent for ISBI. */
  templateId: z.string().optional(),
  imageFormat: z.union([ImageFormatSchema, z.literal('mixed')]),
  imageFormats: z.record(z.string(), z.number()),
  originalSizes: z.array(z.looseObject({ widthPx: z.number(), heightPx: z.number(), images: z.number() })),
  mmPerWorkingPx: z.record(z.string(), z.looseObject({ y: z.number(), x: z.number() })).optional(),
  groundTruth: z.looseObject({ paper: z.string(), clean: z.string() }),
  resize: z.string(),
  workingImage: z.string(),
  source: z.looseObject({ layout: z.string(), description: z.string(), files: z.number() }),
  warnings: z.array(z.string()),
});
export type DatasetDescription = z.infer<typeof DatasetDescriptionSchema>;

/**
 * `sites/<site>/site.json`: a registered site (cc2d site add). Everything a run or a schedule of
 * the site needs besides the profile; rewritten (conditional put on its previous ETag/sha) when the
 * site is added again.
 */
export const SiteRecordSchema = z.looseObject({
  format: z.literal('cc2d-site-v1'),
  site: z.string(),
  /** The image folder as given to `site add` (absolute path on the machine that ingests). */
  dir: z.string(),
  /** null: recorded before any image was labelled (`site suggest-template` picks one; runs refuse the site until then). */
  templateId: z.string().nullable(),
  landmarkNames: z.array(z.string()),
  /** `--spacing MM` when given; DICOM tags and spacing.csv are read from the folder itself. */
  spacingMm: z.number().positive().nullable(),
  spacing: SpacingRuleSchema,
  datasetVersion: z.string(),
  images: z.number().int().nonnegative(),
  labelled: z.number().int().nonnegative(),
  updatedAt: z.string(),
});
export type SiteRecord = z.infer<typeof SiteRecordSchema>;

// ---- training ------------------------------------------------------------------------------------

/** Per-step loss curve of a training stage (`runs/<run>/<kind>/loss-<sha>.json`, and beside each checkpoint). */
export const LossPointSchema = z
  .object({
    step: z.number().int().min(0),
    /** Training loss after this step (non-finite values are stored as null). */
    loss: z.number().nullable(),
  })
  .strict();
export type LossPoint = z.infer<typeof LossPointSchema>;

export const LossLogSchema = z
  .object({
    stage: z.enum(['ssl', 'tpl', 'refine']),
    totalSteps: z.number().int().min(0).optional(),
    /** Steps at which an attempt resumed from a checkpoint (drawn as markers). */
    resumedAtSteps: z.array(z.number().int().min(0)).optional(),
    points: z.array(LossPointSchema).max(2_000_000),
  })
  .strict();
export type LossLog = z.infer<typeof LossLogSchema>;

const TrainKindSchema = z.enum(['ssl', 'tpl', 'refine']);

/** The earlier run (and its checkpoint's step) a training stage started from: SSL continuation. */
export const ContinuedFromSchema = z.object({ runId: z.string().min(1), step: z.number().int().positive() }).strict();

/** Refinement with `refine.maxRoundTrip`: how many pseudo-labels the refiner did not train on, of how many, and the limit. */
export const LeftOutLabelsSchema = z.object({ count: z.number().int().nonnegative(), of: z.number().int().nonnegative(), maxRoundTrip: z.number().positive() }).strict();

/** A training stage's result (contracts/types.ts TrainOutput), as kept in its done marker. */
export const TrainOutputSchema = z.object({
  stage: TrainKindSchema,
  weights: ArtifactRefSchema,
  lossLog: ArtifactRefSchema,
  lastCheckpoint: ArtifactRefSchema.optional(),
  steps: z.number().int().nonnegative(),
  finalLoss: maybeNaN,
  resumedFromStep: z.number().int().nonnegative(),
  continuedFrom: ContinuedFromSchema.optional(),
  attempt: z.number().int(),
  backend: BackendRefSchema,
  durationMs: z.number(),
  leftOutLabels: LeftOutLabelsSchema.optional(),
});

/** `runs/<run>/<kind>/done.json`: the completed stage's output and the input it was trained on. */
export const DoneMarkerSchema = z.object({ fingerprint: z.string(), output: TrainOutputSchema });
export interface DoneMarker {
  fingerprint: string;
  output: TrainOutput;
}

export const PseudoLabelShardSchema = z.object({
  shardIndex: z.number().int().nonnegative(),
  shardCount: z.number().int().positive(),
  labels: ArtifactRefSchema,
  count: z.number().int().nonnegative(),
  backend: BackendRefSchema,
});

export const STAGE_CACHE_FORMAT = 'cc2d-stage-cache-v1';

/**
 * `cache/<stage>/<key>.json`: a stage result of a PUBLISHED run, reusable by any run whose stage
 * key (infra/cache/stage-keys.ts) is `key`. The artifacts stay under the source run's prefix.
 */
export const StageCacheEntrySchema = z.object({
  format: z.literal(STAGE_CACHE_FORMAT),
  stage: z.enum(['ssl', 'pseudo-labels', 'tpl']),
  key: Sha256Schema,
  sourceRunId: z.string().min(1),
  /** What the key was computed from, for a human reading the entry. */
  fields: z.record(z.string(), z.unknown()),
  /** SSL or TPL. */
  train: TrainOutputSchema.optional(),
  /** Pseudo-labels, in shard order. */
  shards: z.array(PseudoLabelShardSchema).optional(),
});
export type StageCacheEntry = z.infer<typeof StageCacheEntrySchema>;

export const CHECKPOINT_MANIFEST_FORMAT = 'cc2d-checkpoint-manifest-v1';

/** `runs/<run>/<kind>/ckpt/<step>-a<attempt>/manifest.json`: names a durable checkpoint blob. */
export const CheckpointManifestSchema = z.object({
  format: z.literal(CHECKPOINT_MANIFEST_FORMAT),
  kind: TrainKindSchema,
  runId: z.string(),
  /** sha256 of the training input; a checkpoint of another input is never resumed from. */
  fingerprint: z.string(),
  step: z.number().int().nonnegative(),
  totalSteps: z.number().int().nonnegative(),
  attempt: z.number().int(),
  loss: maybeNaN,
  blob: ArtifactRefSchema,
  /** Loss log up to `step` (LossLog JSON), so a resumed attempt keeps the earlier curve. */
  lossLog: ArtifactRefSchema.optional(),
  /** The earlier run this training started from (SSL continuation), kept so a resumed attempt still reports it. */
  continuedFrom: ContinuedFromSchema.optional(),
  createdAt: z.string(),
});
export type CheckpointManifest = z.infer<typeof CheckpointManifestSchema>;

/** A pseudo-label shard: ids and their [y, x] landmarks on the working grid. */
export const PseudoLabelFileSchema = z.object({
  inputSize: z.number().int().positive(),
  templateId: z.string(),
  labels: z.record(z.string(), YxListSchema),
});

// ---- shape model (runs/<run>/eval/shape-model-<sha>.json) ------------------------------------------

export const SHAPE_MODEL_FORMAT = 'cc2d-shape-model-v1';

/**
 * The statistical shape model of a run's landmarks (ml/postprocess/shape-model.ts), built by the
 * evaluate stage from the template and the pseudo-labels when the profile's shape prior is on;
 * `cc2d predict` applies the same model.
 */
export const ShapeModelDocumentSchema = z.object({
  format: z.literal(SHAPE_MODEL_FORMAT),
  inputSize: z.number().int().positive(),
  templateId: z.string().min(1),
  model: z.object({
    landmarkCount: z.number().int().min(2),
    mean: z.array(z.tuple([z.number(), z.number()])).min(2),
    modes: z.array(z.array(z.number())),
    variances: z.array(z.number().min(0)),
    noiseVariance: z.number().positive(),
    shapesUsed: z.number().int().min(1),
    shapesGiven: z.number().int().min(1),
  }).refine((m) => m.mean.length === m.landmarkCount && m.modes.length === m.variances.length && m.modes.every((v) => v.length === 2 * m.landmarkCount), 'inconsistent shape model sizes'),
});
export type ShapeModelDocument = z.infer<typeof ShapeModelDocumentSchema>;

// ---- predictions (sites/<site>/predictions/<request sha>/) ------------------------------------------

/**
 * v2 since the exported points are cell centres (ml/metrics gridToOriginalXy, 2026-12-03): a new
 * request hash, so a v1 request's published files (cell corners) are not served again.
 */
export const PREDICT_REQUEST_FORMAT = 'cc2d-predict-request-v2';

/**
 * `request.json` of a prediction request (written by `cc2d predict` before the workflow starts;
 * its sha256 names the request). The profile is the model's, checked for what inference needs.
 */
export const PredictRequestSchema = z.object({
  format: z.literal(PREDICT_REQUEST_FORMAT),
  site: z.string().min(1),
  flagBelow: z.number().min(0).max(1),
  model: z.object({
    runId: z.string().min(1),
    site: z.string().min(1),
    tplWeights: ArtifactRefSchema,
    /** The run's shape model (ShapeModelDocumentSchema), when its profile has the shape prior on. */
    shapeModel: ArtifactRefSchema.optional(),
    /** The run's refinement weights, when its profile has the refinement stage. */
    refineWeights: ArtifactRefSchema.optional(),
    profile: z.looseObject({ name: z.string(), inputSize: z.number().int().positive(), tpl: z.looseObject({ width: z.number().positive(), radiusFraction: z.number().positive() }) }),
    landmarkNames: z.array(z.string()).min(1),
    datasetVersion: z.string().min(1),
    codeVersion: z.string(),
  }),
  inputDatasetVersion: z.string().min(1).optional(),
  images: z.array(z.object({
    id: z.string().min(1),
    widthPx: z.number().int().positive(),
    heightPx: z.number().int().positive(),
    spacingMm: z.number().positive().nullable(),
    /** The image at the model's input size (8-bit grey PNG). */
    working: ArtifactRefSchema,
    /** The image at the refinement input size (same resampler), when the model has refineWeights. */
    fine: ArtifactRefSchema.optional(),
  })).min(1),
});
export type PredictRequest = z.infer<typeof PredictRequestSchema>;

/** One shard's predictions: per image, per landmark, original pixels and the confidence parts. */
export const PredictShardSchema = z.object({
  shardIndex: z.number().int().nonnegative(),
  shardCount: z.number().int().positive(),
  images: z.array(z.object({
    id: z.string(),
    yx: YxListSchema,
    xyPx: YxListSchema,
    peak: z.array(z.number()),
    agreement: z.array(z.number()),
    confidence: z.array(z.number()),
    /** Landmarks the shape prior replaced (their confidence is 0); only when the model's profile has it on. */
    shapeReplaced: z.array(z.boolean()).optional(),
  })),
});
export type PredictShard = z.infer<typeof PredictShardSchema>;

// ---- evaluation ----------------------------------------------------------------------------------

export const METRICS_FORMAT = 'cc2d-metrics-v1';
export const SSL_METRICS_FORMAT = 'cc2d-ssl-metrics-v1';

const ProtocolSchema = z.enum(['A', 'B']);

/** Per-image radial errors (mm), one per landmark. */
export const ImageErrorListSchema = z.array(z.looseObject({ id: z.string(), errorsMm: z.array(z.number()) }));
export type ImageErrorList = z.infer<typeof ImageErrorListSchema>;

/** Per-image errors per protocol, of the test splits themselves (the report derives the union). */
export const StageErrorsSchema = z.array(z.looseObject({ protocol: ProtocolSchema, sets: z.record(z.string(), ImageErrorListSchema) }));
export type StageErrors = z.infer<typeof StageErrorsSchema>;

/** contracts/types.ts MetricSummary: `sdr` is radius (mm, as string) → percent; `outlierPercent` (> 10 mm) absent in px and in older documents. */
export const MetricSummarySchema = z.object({ images: z.number().int().nonnegative(), mreMm: maybeNaN, sdMm: maybeNaN, sdr: z.record(z.string(), maybeNaN), outlierPercent: maybeNaN.optional() });

/** protocol → set → summary. */
export const StageSummarySchema = z.record(z.string(), z.record(z.string(), MetricSummarySchema));

/** The SSL stage alone (CC2D-SSL) as stored in the metrics document (`sslStage`) and in ssl-metrics files. */
export const SslStageDocumentSchema = z.looseObject({
  stage: z.literal('ssl'),
  method: z.string().optional(),
  weights: z.looseObject({ key: z.string(), sha256: z.string() }),
  templateId: z.string(),
  headlineSet: z.string(),
  summary: StageSummarySchema,
  protocols: z.record(z.string(), z.record(z.string(), z.unknown())),
  errors: StageErrorsSchema,
});

/** `runs/<run>/eval/metrics-<sha>.json`; top-level `protocols` / `errors` are the final (TPL) model's. */
export const MetricsDocumentSchema = z.looseObject({
  format: z.literal(METRICS_FORMAT),
  gridSize: z.number().int().positive(),
  /** The dataset's one spacing, or null (per-image or unknown spacing). */
  pixelSpacingMm: z.number().positive().nullable(),
  /** What the `…Mm` numbers are in; absent in documents from before sites (always mm) and without metrics. */
  unit: z.enum(['mm', 'px']).optional(),
  /** Set when nothing was scored (no labelled evaluation image); `protocols` and `errors` are empty then. */
  noMetrics: z.string().optional(),
  /**
   * Where protocol B puts a grid point in original pixels: the centre of its cell (ml/metrics
   * gridToOriginalXy, since 2026-12-03); absent in older documents, which used the cell's corner.
   */
  protocolB: z.literal('cell-centre').optional(),
  templateId: z.string(),
  /** The dataset's landmark names, in point order (absent in documents from before sites). */
  landmarkNames: z.array(z.string()).optional(),
  stage: z.literal('tpl').optional(),
  protocols: z.record(z.string(), z.record(z.string(), z.unknown())),
  errors: StageErrorsSchema,
  sslStage: SslStageDocumentSchema.optional(),
  pseudoLabels: z.looseObject({ protocol: ProtocolSchema, overall: z.unknown(), perLandmark: z.unknown(), images: ImageErrorListSchema }).optional(),
});
export type MetricsDocument = z.infer<typeof MetricsDocumentSchema>;

/**
 * `runs/<run>/eval/predictions-<sha>.json`: [y, x] cells on the working grid per predicted image
 * (every image of the dataset; the test images only in documents from before sites) and the same
 * points as [x, y] original pixels; ground-truth cells of the scored images.
 */
export const PredictionsDocumentSchema = z.looseObject({
  gridSize: z.number().int().positive(),
  landmarkNames: z.array(z.string()).optional(),
  predictionsYx: z.record(z.string(), YxListSchema),
  predictionsXyPx: z.record(z.string(), YxListSchema).optional(),
  truthYx: z.record(z.string(), YxListSchema),
  sslPredictionsYx: z.record(z.string(), YxListSchema).optional(),
});

/** `runs/<run>/eval/ssl-metrics-<sha>.json`, written by `cc2d eval --compute-ssl`. */
export const StoredSslStageSchema = SslStageDocumentSchema.extend({
  format: z.literal(SSL_METRICS_FORMAT),
  runId: z.string(),
  datasetVersion: z.string(),
  gridSize: z.number().int().positive(),
  pixelSpacingMm: z.number().positive().nullable(),
  codeVersion: z.string(),
  backend: BackendRefSchema,
});
export type StoredSslStage = z.infer<typeof StoredSslStageSchema>;

// ---- report ----------------------------------------------------------------------------------------

export const REPORT_FORMAT = 'cc2d-run-report-v1';

/**
 * `runs/<run>/report/report-<sha>.json`. Only what is read back is checked (`cc2d eval
 * --compute-ssl` takes the profile, dataset version, template, test splits and SSL weights
 * from it); the profile is checked for the fields the SSL stage needs.
 */
export const RunReportDocumentSchema = z.looseObject({
  format: z.literal(REPORT_FORMAT),
  runId: z.string(),
  lineage: z.looseObject({
    datasetVersion: z.string().min(1),
    templateId: z.string().min(1),
    config: z.looseObject({ profile: z.looseObject({ inputSize: z.number().int().positive(), ssl: z.looseObject({}) }) }),
  }),
  plan: z.looseObject({ testSplits: z.record(z.string(), z.array(z.string())).refine((s) => Object.keys(s).length > 0, 'no test split') }),
  artifacts: z.looseObject({ sslWeights: ArtifactRefSchema }),
});

/** What `cc2d site suggest-template --run` reads of a run's report: its profile and SSL weights (runs without test splits included). */
export const RunSslWeightsReportSchema = z.looseObject({
  format: z.literal(REPORT_FORMAT),
  runId: z.string(),
  lineage: z.looseObject({ config: RunReportDocumentSchema.shape.lineage.shape.config }),
  artifacts: z.looseObject({ sslWeights: ArtifactRefSchema }),
});

// ---- champion per site -----------------------------------------------------------------------------

export const CHAMPION_FORMAT = 'cc2d-champion-v1';

/** One champion of a site: the run, when and how it became champion, and its headline MRE. */
export const ChampionEntrySchema = z.looseObject({
  runId: z.string().min(1),
  since: z.string(),
  by: z.enum(['gate', 'manual', 'rollback']),
  reason: z.string(),
  datasetVersion: z.string().optional(),
  mre: z.number().optional(),
  unit: z.enum(['mm', 'px']).optional(),
});
export type ChampionEntry = z.infer<typeof ChampionEntrySchema>;

/** A champion that `cc2d models rollback` demoted: its entry and when it stopped being champion. */
export const RolledBackEntrySchema = ChampionEntrySchema.extend({ until: z.string() });
export type RolledBackEntry = z.infer<typeof RolledBackEntrySchema>;

/**
 * `sites/<site>/champion.json`: the current champion and the earlier ones (oldest first, what
 * `cc2d models rollback` restores), and the champions a rollback demoted (oldest first; absent in
 * documents written before they were kept). Replaced only by compare-and-swap on its ETag, so two
 * runs finishing together cannot both win; `revision` counts the replacements.
 */
export const ChampionDocumentSchema = z.looseObject({
  format: z.literal(CHAMPION_FORMAT),
  site: z.string().min(1),
  revision: z.number().int().nonnegative(),
  champion: ChampionEntrySchema,
  history: z.array(ChampionEntrySchema),
  rolledBack: z.array(RolledBackEntrySchema).optional(),
});
export type ChampionDocument = z.infer<typeof ChampionDocumentSchema>;

/** `runs/<run>/report/promotion.json`: the promotion gate's decision on the run. */
export const PromotionDocumentSchema = z.looseObject({
  runId: z.string(),
  site: z.string(),
  outcome: z.enum(['promoted', 'kept', 'skipped']),
  reason: z.string(),
  decidedAt: z.string(),
  championBefore: z.string().optional(),
  candidateMre: z.number().optional(),
  championMre: z.number().optional(),
  comparedImages: z.number().int().optional(),
});
export type PromotionDocument = z.infer<typeof PromotionDocumentSchema>;

// ---- template suggestion ------------------------------------------------------------------------------

export const TEMPLATE_RANKING_FORMAT = 'cc2d-template-ranking-v1';

/** `sites/<site>/template-ranking/<sha256>.json`: a site's images ranked as template candidates (no labels used). */
export const TemplateRankingSchema = z.looseObject({
  format: z.literal(TEMPLATE_RANKING_FORMAT),
  site: z.string(),
  datasetVersion: z.string(),
  profile: z.string(),
  inputSize: z.number().int().positive(),
  sslWeights: z.looseObject({ key: z.string(), sha256: z.string() }),
  sslSource: z.string(),
  /** The score the ranking is by, and how every score is computed. */
  scoreName: z.string(),
  method: z.record(z.string(), z.string()),
  entries: z.array(z.looseObject({
    id: z.string(),
    rank: z.number().int().positive(),
    score: z.number(),
    scores: z.record(z.string(), z.number()),
  })).min(1),
  codeVersion: z.string(),
  backend: z.looseObject({ backend: z.string() }),
  createdAt: z.string(),
});
export type TemplateRanking = z.infer<typeof TemplateRankingSchema>;
