/**
 * The wire types between workflow, activities, CLI and dashboard: inputs and outputs of the
 * pipeline activities, the workflow's result and progress. Everything here is small JSON: S3
 * keys, hashes, ids, metrics. Never image bytes, tensors or weights (payload limit 2 MiB,
 * history 50 MiB). Types only, so workflows can `import type` them.
 */
import type { PipelineInput, RunConfig } from '../infra/config/run-config';
import type { ErrorUnit, MetricSummary } from '../ml/metrics';
import type { Profile } from '../ml/profiles';

/** A stored object: its key and the sha256 of its bytes. */
export interface ArtifactRef {
  key: string;
  sha256: string;
  size: number;
}

/** Which TF backend produced an artifact (recorded in the lineage manifest). */
export interface BackendRef {
  backend: string;
  tfVersion: string;
  tfjsVersion: string;
  /** What the worker computed on: "GPU:0 <name>", "CPU", or "CPU (allowed)" (a GPU-queue worker run with --allow-cpu); absent in older documents. */
  device?: string;
  /** TF_ENABLE_ONEDNN_OPTS the native backend loaded with (oneDNN convolutions round differently); absent in older documents. */
  oneDnnOpts?: string;
}

export type StageName = 'queued' | 'ingest' | 'plan' | 'ssl' | 'pseudo-labels' | 'tpl' | 'refine' | 'evaluate' | 'report' | 'promote' | 'cleanup' | 'done' | 'predict' | 'publish' | 'rank';

/** Live progress of a long activity: sent as heartbeat details and as `progress` signals. */
export interface StageProgress {
  stage: StageName;
  step: number;
  totalSteps: number;
  loss?: number;
}

/** Heartbeat details of the training activities: what a retry resumes from. */
export interface TrainHeartbeat extends StageProgress {
  /** Last durable checkpoint (blob) and its manifest; absent before the first checkpoint. */
  checkpointKey?: string;
  manifestKey?: string;
  sha256?: string;
  checkpointStep?: number;
}

// ---- ingest (implemented by the ingest helper, activities/ingest-dataset.ts) ---------------

export interface IngestInput {
  datasetDir: string;
  sizes: number[];
  pixelSpacingMm?: number;
  site?: string;
  /** Folder layout; detected from the folder when absent. */
  layout?: 'isbi' | 'site';
  /** The run's template: a site's landmark set and splits follow from it (the ISBI importer ignores it). */
  templateId?: string;
}

export interface IngestOutput {
  datasetVersion: string;
  counts: Record<string, number>;
  reused: boolean;
}

// ---- plan ----------------------------------------------------------------------------------

export interface PlanRunInput {
  runId: string;
  datasetVersion: string;
  config: RunConfig;
  inputSize: number;
}

export interface PlanRunOutput {
  trainIds: string[];
  /** Train ids split into `config.pseudoLabelShards` contiguous, non-empty shards. */
  shards: string[][];
  /**
   * Evaluation splits → their LABELLED ids (only those are scored); empty when the dataset has
   * no labelled evaluation image (a site with only its template annotated: no metrics).
   */
  testSplits: Record<string, string[]>;
  /** Requested test splits the dataset does not have, or has no labelled image of (reported as not covered). */
  missingTestSplits: string[];
  landmarkCount: number;
  /** The dataset's K landmark names (labels.json); absent in plans made before datasets named them. */
  landmarkNames?: string[];
  /** The dataset's one spacing in mm, or null when it varies per image or is unknown. */
  pixelSpacingMm: number | null;
}

// ---- training ------------------------------------------------------------------------------

/** Stored user-supplied VGG19 encoder weights (`backbones/<sha256>.bin`). */
export interface BackboneWeightsRef {
  key: string;
  sha256: string;
}

export interface TrainSelfSupervisedInput {
  runId: string;
  datasetVersion: string;
  profile: Profile;
  seed: number;
  trainIds: string[];
  /** Initialises the encoder (absent: from scratch). */
  backboneWeights?: BackboneWeightsRef;
  /** Start from this shorter earlier run's checkpoint instead of step 0 (the stage cache found it). */
  continueFrom?: SslContinuation;
}

/**
 * A published run's SSL checkpoint that a run with more SSL steps and otherwise the same SSL key
 * fields starts from (infra/cache/ssl-continuation.ts): resuming is exact and the lr depends only on
 * the step, so the result equals training from step 0.
 */
export interface SslContinuation {
  sourceRunId: string;
  step: number;
  /** The checkpoint's manifest (its loss log comes along, so the curve starts at step 0). */
  manifestKey: string;
  checkpoint: ArtifactRef;
  /** What the earlier run trained on: continued only on the same backend and TF versions (float rounding). */
  backend: BackendRef;
}

/** The earlier run, and its checkpoint's step, a training stage started from (SSL continuation). */
export interface ContinuedFrom {
  runId: string;
  step: number;
}

export interface TrainOutput {
  stage: 'ssl' | 'tpl' | 'refine';
  weights: ArtifactRef;
  /** Per-step loss curve (LossLog JSON: stage, totalSteps, resumedAtSteps, points). */
  lossLog: ArtifactRef;
  /** The last durable checkpoint, kept for lineage. */
  lastCheckpoint?: ArtifactRef;
  steps: number;
  finalLoss: number;
  /** Step the final attempt started from (0 = from scratch). */
  resumedFromStep: number;
  /** The earlier run whose checkpoint the stage started from (SSL continuation), and its step. */
  continuedFrom?: ContinuedFrom;
  attempt: number;
  backend: BackendRef;
  durationMs: number;
  /** TPL or refinement with a round-trip limit (maxRoundTrip): pseudo-labels left out of training, of how many. */
  leftOutLabels?: LeftOutLabels;
}

export interface LeftOutLabels {
  count: number;
  of: number;
  maxRoundTrip: number;
}

export interface GeneratePseudoLabelsInput {
  runId: string;
  datasetVersion: string;
  profile: Profile;
  sslWeights: ArtifactRef;
  templateId: string;
  ids: string[];
  /**
   * The plan's training ids (the template among them): the pool the prototypes are built from when
   * profile.ssl.prototypeRounds > 0. Absent in inputs scheduled before prototypes existed.
   */
  trainIds?: string[];
  shardIndex: number;
  shardCount: number;
}

export interface PseudoLabelShard {
  shardIndex: number;
  shardCount: number;
  labels: ArtifactRef;
  count: number;
  backend: BackendRef;
}

/** Stored JSON of a shard: ids and their [y, x] landmarks on the working grid. */
export interface PseudoLabelFile {
  inputSize: number;
  templateId: string;
  labels: Record<string, Array<[number, number]>>;
}

export interface TrainSupervisedInput {
  runId: string;
  datasetVersion: string;
  profile: Profile;
  seed: number;
  trainIds: string[];
  templateId: string;
  pseudoLabels: ArtifactRef[];
  /** Initialises the U-Net's encoder (absent: from scratch). */
  backboneWeights?: BackboneWeightsRef;
  /**
   * The run's SSL weights: required when the stage filters its pseudo-labels by their round trip
   * (profile.tpl.maxRoundTrip for TPL, profile.refine.maxRoundTrip for refinement), which is
   * matched with them.
   */
  sslWeights?: ArtifactRef;
}

/** The refinement stage (profile.refine set): trained on the same pseudo-labels as TPL. */
export type TrainRefinerInput = TrainSupervisedInput;

// ---- cross-run stage cache -------------------------------------------------------------------

/** The stages whose results a later run may reuse (infra/cache/stage-keys.ts). */
export type CacheStage = 'ssl' | 'pseudo-labels' | 'tpl';

/** What a stage key is computed from; the upstream refs are required by the stages that read them. */
export interface LookupCacheInput extends Omit<TrainSupervisedInput, 'pseudoLabels'> {
  stage: CacheStage;
  shardCount: number;
  /** Upstream of the pseudo-labels, and of TPL with `tpl.maxRoundTrip`. */
  sslWeights?: ArtifactRef;
  /** Upstream of TPL, in shard order. */
  pseudoLabels?: ArtifactRef[];
}

export interface LookupCacheOutput {
  key: string;
  /** On an SSL miss: a shorter earlier run to continue from, when one is usable. */
  continueFrom?: SslContinuation;
  /** Present on a hit: the stage's stored result in a published run. */
  hit?: {
    sourceRunId: string;
    /** SSL or TPL. */
    train?: TrainOutput;
    /** Pseudo-labels, in shard order. */
    shards?: PseudoLabelShard[];
  };
}

// ---- evaluation and report -----------------------------------------------------------------

export interface EvaluateModelInput {
  runId: string;
  datasetVersion: string;
  profile: Profile;
  tplWeights: ArtifactRef;
  /**
   * The run's SSL weights: the SSL stage alone (cascade matching from the template, CC2D-SSL) is
   * evaluated on the test images too. Absent in inputs scheduled before this field existed.
   */
  sslWeights?: ArtifactRef;
  /** The refinement stage's weights (profile.refine): the TPL predictions are refined with them. */
  refineWeights?: ArtifactRef;
  pseudoLabels: ArtifactRef[];
  templateId: string;
  /** Labelled evaluation ids per split (may be empty: predictions without metrics). */
  testSplits: Record<string, string[]>;
  landmarkCount: number;
}

/**
 * MRE (mm), SD (mm) and SDR of one set under one protocol, as ml/metrics computes it: `sdr`
 * maps the radius in mm (as a string: "2", "2.5", "3", "4") to the PERCENT (0-100) of errors
 * strictly below it.
 */
export type { MetricSummary };

export interface EvaluateModelOutput {
  /** Full per-landmark, per-image metrics JSON (its protocols and errors are empty without labelled evaluation images). */
  metrics: ArtifactRef;
  /** Predicted landmarks of every image of the dataset (train, template and evaluation splits). */
  predictions: ArtifactRef;
  /** The shape prior's model (contracts/documents ShapeModelDocumentSchema); only when the profile has it on. */
  shapeModel?: ArtifactRef;
  /** Final model (TPL): protocol ("A" paper 384-grid | "B" clean full resolution) → set name → summary; {} without metrics. */
  summary: Record<string, Record<string, MetricSummary>>;
  /** The SSL stage alone (CC2D-SSL) on the same test images, same layout; absent when no SSL weights were given. */
  sslSummary?: Record<string, Record<string, MetricSummary>>;
  /** Quality of the pseudo-labels (SSL matching) on the training images, protocol A. */
  pseudoLabelSummary?: MetricSummary;
  /** Headline number: protocol A MRE on the union of the evaluated test splits (in `unit`); absent without metrics. */
  mreMm?: number;
  headlineSet?: string;
  /** What the metrics are in: mm, or original-image px when a scored image has no pixel spacing; absent without metrics. */
  unit?: ErrorUnit;
  /** Set (to NO_METRICS_REASON) when nothing was scored. */
  noMetrics?: string;
  backend: BackendRef;
}

export interface StageTiming {
  stage: StageName;
  startedAt: string;
  endedAt: string;
}

export interface WriteReportInput {
  runId: string;
  pipeline: PipelineInput;
  datasetVersion: string;
  datasetReused: boolean;
  plan: Pick<PlanRunOutput, 'trainIds' | 'testSplits' | 'missingTestSplits' | 'landmarkCount' | 'pixelSpacingMm' | 'landmarkNames'> & { shardCount: number };
  ssl: TrainOutput;
  pseudoLabels: PseudoLabelShard[];
  tpl: TrainOutput;
  /** The refinement stage, when the profile has one. */
  refine?: TrainOutput;
  evaluation: EvaluateModelOutput;
  timings: StageTiming[];
  /** Set by schedules (TemporalScheduledById), when the run was started by one. */
  scheduleId?: string;
  /** Stages reused from an earlier run (stage cache): stage → source run id. */
  reusedFrom?: Partial<Record<CacheStage, string>>;
  /** The run and step this run's own SSL training continued from (absent when SSL was reused): the workflow decides it, the reports show it. */
  sslContinuedFrom?: ContinuedFrom;
  /** Run the promotion gate just before publishing, so the report shows its decision. */
  gate?: { minMre?: number };
}

export interface WriteReportOutput {
  /** JSON report (content-addressed). */
  report: ArtifactRef;
  /** HTML report at the fixed key runs/<run>/report/report.html (absent if rendering failed). */
  reportHtml?: ArtifactRef;
  /** The run's lineage manifest; written last, so its presence means "published". */
  manifestKey: string;
  /** The promotion gate's decision (when `gate` was given). */
  promotion?: PromotionDecision;
}

export interface CleanupRunInput {
  runId: string;
}

export interface CleanupRunOutput {
  deleted: number;
  /** True when the run was already published (nothing is deleted then). */
  published: boolean;
}

// ---- champion per site ---------------------------------------------------------------------

export interface PromoteRunInput {
  runId: string;
  /** The site's threshold for a first champion (run config `minMre`), in the run's unit. */
  minMre?: number;
}

/** The promotion gate's decision on a run (also stored as runs/<run>/report/promotion.json). */
export interface PromotionDecision {
  site: string;
  outcome: 'promoted' | 'kept' | 'skipped';
  reason: string;
  /** The champion the run was compared with (absent when the site had none). */
  championBefore?: string;
  candidateMre?: number;
  championMre?: number;
  comparedImages?: number;
}

// ---- workflow ------------------------------------------------------------------------------

export interface PipelineResult {
  runId: string;
  status: 'completed';
  datasetVersion: string;
  datasetReused: boolean;
  configHash: string;
  /** Absent when the run had no labelled evaluation image (`noMetrics` says so). */
  mreMm?: number;
  headlineSet?: string;
  /** Unit of every metric of the run (absent in results from before sites: mm). */
  unit?: ErrorUnit;
  noMetrics?: string;
  /** Final model (TPL), protocol → set → summary. */
  metrics: EvaluateModelOutput['summary'];
  /** The SSL stage alone (CC2D-SSL), protocol → set → summary (absent in runs finished before it was evaluated). */
  sslMetrics?: EvaluateModelOutput['summary'];
  pseudoLabelMetrics?: MetricSummary;
  /** Stages reused from an earlier published run (stage cache): stage → source run id. */
  reusedFrom?: Partial<Record<CacheStage, string>>;
  /** This run's SSL started from that earlier run's checkpoint at `step` (stage-cache continuation). */
  sslContinuedFrom?: ContinuedFrom;
  reportKey: string;
  manifestKey: string;
  /** The promotion gate's decision (absent in runs from before the gate). */
  promotion?: PromotionDecision;
  artifacts: {
    sslWeights: ArtifactRef;
    pseudoLabels: ArtifactRef[];
    tplWeights: ArtifactRef;
    refineWeights?: ArtifactRef;
    metrics: ArtifactRef;
    predictions: ArtifactRef;
    report: ArtifactRef;
    reportHtml?: ArtifactRef;
  };
}

/** What the `progress` query returns. */
export interface PipelineProgress extends StageProgress {
  runId: string;
  status: 'running' | 'completed' | 'failed' | 'cancelled';
  /** 0–1 over the whole pipeline: finished stages by weight plus the running stage's share. */
  fraction: number;
  /** 0–1 of the running stage (steps, or shards of the pseudo-label fan-out). */
  stageFraction?: number;
  /** Measured over the running stage since its first progress report (or its last resume). */
  stepsPerSecond?: number;
  /** Seconds left in the running stage / the whole run, as estimated at `measuredAt`. */
  stageEtaSeconds?: number;
  etaSeconds?: number;
  /** Workflow time (ISO) of the measurement the ETA is from; clients subtract the time since. */
  measuredAt?: string;
  stagesDone: StageName[];
  datasetVersion?: string;
  mreMm?: number;
  /** Shards of the pseudo-label fan-out done / total. */
  shardsDone?: number;
  shardCount?: number;
  /** The run's GPU task queue: clients check it for pollers to tell "waiting for a GPU worker". */
  gpuQueue?: string;
}

// ---- predict (`cc2dPredict`) ----------------------------------------------------------------

/**
 * A prediction request: the request document (model, images as working-size PNG references,
 * threshold; contracts/documents.ts PredictRequestSchema) is stored first; its sha256 names the
 * results' prefix `sites/<site>/predictions/<requestSha256>/`.
 */
export interface PredictInput {
  request: ArtifactRef;
  site: string;
  requestSha256: string;
  /** Images in the request (for progress). */
  imageCount: number;
  /** Contiguous slices of the request's images, one GPU activity each. */
  shardCount: number;
  heartbeatTimeoutSeconds: number;
  taskQueues?: { gpu?: string; cpu?: string };
}

export interface PredictImagesInput {
  request: ArtifactRef;
  shardIndex: number;
  shardCount: number;
}

export interface PredictImagesOutput {
  /** Stored shard (PredictShardSchema). */
  shard: ArtifactRef;
  count: number;
  backend: BackendRef;
}

export interface PublishPredictionsInput {
  request: ArtifactRef;
  shards: ArtifactRef[];
}

export interface PredictResult {
  requestSha256: string;
  /** `sites/<site>/predictions/<requestSha256>` (published: its manifest.json exists). */
  prefix: string;
  manifestKey: string;
  images: number;
  landmarks: number;
  /** Landmarks whose confidence is below the request's threshold. */
  flagged: number;
  /** True when an identical request had already been published (nothing was written). */
  alreadyPublished: boolean;
}

// ---- template suggestion (`cc2d site suggest-template`) ----------------------------------------------

/** `cc2dSuggestTemplate`: rank a site's images as template candidates from SSL embeddings alone. */
export interface SuggestTemplateInput {
  site: string;
  datasetVersion: string;
  profile: Profile;
  seed: number;
  /** The images SSL trains on (the dataset's train split, as a run of the site would). */
  trainIds: string[];
  /** The images ranked (every image of the version). */
  candidateIds: string[];
  /** SSL weights to use (`--run`); absent: looked up in the stage cache, else trained by this workflow. */
  sslWeights?: Pick<ArtifactRef, 'key' | 'sha256'>;
  /** With `sslWeights`: the run they belong to. */
  sslRunId?: string;
  heartbeatTimeoutSeconds: number;
  taskQueues?: { gpu?: string; cpu?: string };
}

export interface RankTemplatesInput {
  site: string;
  datasetVersion: string;
  profile: Profile;
  sslWeights: Pick<ArtifactRef, 'key' | 'sha256'>;
  /** Where the weights came from: a run id, or the stage cache's source run. */
  sslSource: string;
  candidateIds: string[];
}

/** One ranked image (rank 1 = the suggestion). */
export interface RankedTemplateEntry {
  id: string;
  rank: number;
  /** The ranking score (lower = better for `cycle`). */
  score: number;
  /** Every computed score of this image, by name. */
  scores: Record<string, number>;
}

export interface RankTemplatesOutput {
  /** The stored ranking (TemplateRankingSchema) under the site's keys. */
  ranking: ArtifactRef;
  scoreName: string;
  /** The first entries of the ranking (the document holds all). */
  top: RankedTemplateEntry[];
  images: number;
  backend: BackendRef;
  durationMs: number;
}

export interface SuggestTemplateResult extends RankTemplatesOutput {
  site: string;
  datasetVersion: string;
  sslWeights: Pick<ArtifactRef, 'key' | 'sha256'>;
  /** `trained` by this workflow, `cache` (an earlier published run's SSL stage) or `run` (given). */
  sslFrom: 'trained' | 'cache' | 'run';
  sslSource: string;
}
