/**
 * The run configuration: what one pipeline run trains on and how. Loaded from a YAML or JSON
 * file, then environment, then CLI flags (later wins), validated with zod BEFORE any workflow
 * starts. Errors name the field and the rule (`InvalidConfigError`).
 *
 * Stack settings (S3 endpoint/bucket, Temporal address/namespace) are NOT part of a run config:
 * they come from infra/config/stack.ts, and credentials never appear in a config, a workflow
 * payload or a search attribute.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { detectDatasetLayout } from '../dataset/detect-layout';
import { InvalidConfigError } from '../errors';
import { sha256OfJson } from '../storage/hash';
import { BackboneWeightsRefSchema } from './backbone-weights';
import { PostprocessSchema, resolveProfile, SslProfileSchema, TplProfileSchema, type Profile } from '../../ml/profiles';
import { RefineProfileSchema } from '../../ml/refine/config';

/** Dataset ids are file stems (ISBI: "001"…"400"); a bare number is zero-padded to 3 digits. */
const DatasetIdSchema = z
  .union([z.string(), z.number().int().nonnegative()])
  .transform((v) => (typeof v === 'number' ? String(v).padStart(3, '0') : v.trim()))
  .pipe(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be a file stem of letters, digits, "_", "." or "-"'));

/** A site is a stable, index-friendly name (it becomes a search attribute and part of run ids). */
export const SITE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,47}$/;
export const SITE_NAME_RULE = 'must be lowercase letters, digits and "-" (at most 48 characters)';
export const SiteSchema = z.string().regex(SITE_NAME_PATTERN, SITE_NAME_RULE);

/** How dataset.dir is laid out: the official ISBI 2015 folders, or a site folder (images/, landmarks/). */
export type DatasetLayout = 'isbi' | 'site';

/** The split a site dataset holds its labelled non-template images in. */
export const SITE_EVAL_SPLIT = 'eval';
const ISBI_DEFAULT_TEMPLATE = '125';
const ISBI_TEST_SPLITS = ['test1', 'test2'];

const DatasetSchema = z
  .object({
    /** A folder (ISBI 2015 layout or a site folder), ingested (or reused if unchanged) by the run. */
    dir: z.string().min(1).optional(),
    /** Layout of `dir`; when absent it is detected from the folder (images/ -> site, RawImage/ -> isbi). */
    layout: z.enum(['isbi', 'site']).optional(),
    /** An already published dataset version id (datasets/<version>/). */
    version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be a dataset version id').optional(),
    /**
     * Original pixel spacing in mm. ISBI: every image (default 0.1 mm). A site: images without a
     * DICOM tag or spacing.csv entry (none: their spacing is unknown and metrics are in pixels).
     */
    pixelSpacingMm: z.number().positive().max(10).optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    if ((d.dir === undefined) === (d.version === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'exactly one of dataset.dir or dataset.version is required', path: [] });
    }
  });

const SplitSchema = z
  .object({
    /** Training images (unlabelled except the template); "all" = the dataset's train split. */
    trainIds: z.union([z.literal('all'), z.array(DatasetIdSchema).min(1)]).default('all'),
    /** Test splits to evaluate (default: ISBI test1 + test2, a site eval); splits absent from the dataset are reported as not covered. */
    testSplits: z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be a split name such as test1')).min(1).optional(),
  })
  .strict();

/** Default threshold of the low-confidence flag of predictions (confidence in [0, 1], ml/tpl voteConfidence). */
export const DEFAULT_FLAG_BELOW = 0.5;

/** How `cc2d predict` presents this run's model; the run's value is the default of predictions with it. */
const PredictConfigSchema = z
  .object({
    /** A predicted landmark whose confidence is below this gets the `low-confidence` flag (`cc2d predict --flag-below`). */
    flagBelow: z.number().min(0).max(1).default(DEFAULT_FLAG_BELOW),
  })
  .strict();

const OverridesSchema = z
  .object({
    inputSize: z.number().int().optional(),
    ssl: SslProfileSchema.partial().strict().optional(),
    tpl: TplProfileSchema.partial().strict().optional(),
    postprocess: z.object({
      tta: PostprocessSchema.shape.tta.partial().strict().optional(),
      shapePrior: PostprocessSchema.shape.shapePrior.partial().strict().optional(),
    }).strict().optional(),
    /** Present (even `{}`) = the refinement stage on, these fields over the measured defaults. */
    refine: RefineProfileSchema.partial().strict().optional(),
  })
  .strict();

export const RunConfigSchema = z
  .object({
    site: SiteSchema.default('default'),
    dataset: DatasetSchema,
    split: SplitSchema.default({ trainIds: 'all' }),
    /** The one labelled training image (ISBI default 125, as the reference code; a site must name it). */
    templateId: DatasetIdSchema.optional(),
    profile: z.enum(['paper', 'cpu', 'quick', 'smoke']).default('cpu'),
    overrides: OverridesSchema.default({}),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(2022),
    /** Pseudo-labelling is split into this many parallel activities (fan-out over workers). */
    pseudoLabelShards: z.number().int().min(1).max(64).default(2),
    /** Checkpoint every N training steps; overrides profile.ssl/tpl.checkpointEvery when set. */
    checkpointEvery: z.number().int().min(1).optional(),
    /**
     * Reuse SSL, pseudo-labels and TPL from an earlier published run whose stage inputs are the
     * same (infra/cache/stage-keys.ts); false recomputes every stage (`cc2d run --no-cache`).
     */
    cache: z.boolean().default(true),
    /**
     * User-supplied VGG19 encoder weights initialising both stages' encoders, as stored by
     * `cc2d run --backbone-weights FILE` (infra/config/backbone-weights.ts); absent = from scratch.
     */
    backboneWeights: BackboneWeightsRefSchema.optional(),
    /** Heartbeat timeout of the training activities: a dead worker is noticed within this. */
    heartbeatTimeoutSeconds: z.number().int().min(5).max(60).default(60),
    /**
     * The site's bar for a FIRST champion: with no champion yet, the run is promoted only when
     * its headline MRE (in its unit) is at most this. Later runs must beat the champion instead.
     */
    minMre: z.number().positive().optional(),
    predict: PredictConfigSchema.default({ flagBelow: DEFAULT_FLAG_BELOW }),
    /** Route this run's activities to dedicated worker pools (default cc2d-gpu / cc2d-cpu). */
    taskQueues: z
      .object({
        gpu: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be a task queue name').optional(),
        cpu: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'must be a task queue name').optional(),
      })
      .strict()
      .default({}),
  })
  .strict()
  .transform((raw, ctx) => {
    // Defaults that depend on the layout: a site has no conventional template and evaluates `eval`.
    const site = raw.dataset.layout === 'site';
    if (raw.templateId === undefined && site) {
      ctx.addIssue({ code: 'custom', path: ['templateId'], message: 'required for a site dataset (the id of its one labelled image)' });
      return z.NEVER;
    }
    const templateId = raw.templateId ?? ISBI_DEFAULT_TEMPLATE;
    const c = { ...raw, templateId, split: { trainIds: raw.split.trainIds, testSplits: raw.split.testSplits ?? (site ? [SITE_EVAL_SPLIT] : [...ISBI_TEST_SPLITS]) } };
    if (Array.isArray(c.split.trainIds)) {
      const seen = new Set<string>();
      for (const id of c.split.trainIds) {
        if (seen.has(id)) ctx.addIssue({ code: 'custom', path: ['split', 'trainIds'], message: `duplicate id "${id}"` });
        seen.add(id);
      }
      if (!seen.has(c.templateId)) {
        ctx.addIssue({ code: 'custom', path: ['templateId'], message: `"${c.templateId}" must be one of split.trainIds (the template is a training image, rule B6, docs/reliability.md#b6)` });
      }
    }
    return c;
  });

export type RunConfigInput = z.input<typeof RunConfigSchema>;
export type RunConfig = z.output<typeof RunConfigSchema>;

/** What the workflow receives: the validated config, the fully resolved profile and their hash. */
export interface PipelineInput {
  config: RunConfig;
  profile: Profile;
  /** See `configHashOf`. */
  configHash: string;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? `config.${issue.path.map(String).join('.')}` : 'config';
  return `${where}: ${issue.message}`;
}

/** Validates a config object; throws `InvalidConfigError` naming every bad field and its rule. */
export function parseRunConfig(raw: unknown): RunConfig {
  const parsed = RunConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidConfigError(`invalid run config:\n  - ${parsed.error.issues.map(formatIssue).join('\n  - ')}`);
  }
  return parsed.data;
}

/** The run's profile: the named one, its overrides, and the run-level checkpoint interval. */
export function resolveRunProfile(config: RunConfig): Profile {
  const overrides = {
    ...(config.overrides.inputSize !== undefined ? { inputSize: config.overrides.inputSize } : {}),
    ssl: { ...config.overrides.ssl, ...(config.checkpointEvery !== undefined ? { checkpointEvery: config.checkpointEvery } : {}) },
    tpl: { ...config.overrides.tpl, ...(config.checkpointEvery !== undefined ? { checkpointEvery: config.checkpointEvery } : {}) },
    ...(config.overrides.postprocess ? { postprocess: config.overrides.postprocess } : {}),
    ...(config.overrides.refine !== undefined
      ? { refine: { ...config.overrides.refine, ...(config.checkpointEvery !== undefined ? { checkpointEvery: config.checkpointEvery } : {}) } }
      : {}),
  };
  try {
    return resolveProfile(config.profile, overrides);
  } catch (err) {
    // resolveProfile says "profile.<field>: <rule>"; the user wrote it under overrides.
    throw new InvalidConfigError(`invalid run config:\n  - config.${(err as Error).message.replace(/^profile\./, 'overrides.')}`);
  }
}

/**
 * sha256 of everything that shapes a run's result EXCEPT where its data came from: the dataset
 * is identified by its content-addressed version in the lineage, so a rerun from the dataset
 * version has the same config hash as the original run from the folder.
 */
export function configHashOf(config: RunConfig, profile: Profile): string {
  // Where data came from, which worker pool ran it, whether stages were reused, the promotion bar
  // and how predictions are flagged do not change the result.
  const { dataset, taskQueues: _queues, cache: _cache, minMre: _minMre, predict: _predict, ...rest } = config;
  const { dir: _dir, version: _version, layout: _layout, ...datasetParams } = dataset;
  return sha256OfJson({ config: { ...rest, dataset: datasetParams }, profile });
}

export function buildPipelineInput(config: RunConfig): PipelineInput {
  const profile = resolveRunProfile(config);
  return { config, profile, configHash: configHashOf(config, profile) };
}

/** Reads a .yaml/.yml/.json config file; syntax errors name the file and line. */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidConfigError(`config file ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let value: unknown;
  try {
    value = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { strict: true, uniqueKeys: true });
  } catch (err) {
    throw new InvalidConfigError(`config file ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidConfigError(`config file ${file}: expected a mapping at the top level`);
  const obj = value as Record<string, unknown>;
  // A relative dataset.dir is relative to the config file, not to the shell's cwd.
  const ds = obj.dataset as Record<string, unknown> | undefined;
  if (ds && typeof ds === 'object' && typeof ds.dir === 'string' && !path.isAbsolute(ds.dir)) {
    obj.dataset = { ...ds, dir: path.resolve(path.dirname(file), ds.dir) };
  }
  return obj;
}

/** Flags a user can give on the command line; each maps to one config field. */
export interface RunConfigFlags {
  config?: string;
  site?: string;
  dataset?: string;
  datasetVersion?: string;
  /** Site pixel spacing in mm (dataset.pixelSpacingMm). */
  spacing?: string;
  template?: string;
  profile?: string;
  seed?: string;
  shards?: string;
  checkpointEvery?: string;
  /** commander's `--no-cache` sets false. */
  cache?: boolean;
  minMre?: string;
  /** Repeated `--set a.b=value` (value parsed as YAML scalar). */
  set?: string[];
}

function toInt(field: string, value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidConfigError(`invalid run config:\n  - config.${field}: expected an integer, got "${value}"`);
  return Number(value);
}

function toNumber(field: string, value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidConfigError(`invalid run config:\n  - config.${field}: expected a number, got "${value}"`);
  return n;
}

function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === undefined || next === null || typeof next !== 'object') cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

/** Env names read by `loadRunConfig` (documented in docs/operating-pipeline.md). */
export const RUN_CONFIG_ENV = {
  site: 'CC2D_SITE',
  profile: 'CC2D_PROFILE',
  template: 'CC2D_TEMPLATE',
  seed: 'CC2D_SEED',
  datasetDir: 'ISBI_DIR',
} as const;

export const DEFAULT_DATASET_DIR = '../shared/datasets/isbi2015_ceph';

/** The layer below the config file: a registered site's folder, template, spacing; or a function of the site the run names. */
export type RunConfigBase = (site: string | undefined) => Promise<Record<string, unknown>>;

/** How to register a site, for every message about an unregistered one. */
export function registerSiteHint(site: string): string {
  return `cc2d site add ${site} --dir DIR --template ID`;
}

/**
 * Builds and validates the run config: `base` (a registered site's folder, template, spacing),
 * then the file (if any), then env, then flags. `base` gets the site the run names (--site, else
 * a non-empty CC2D_SITE, else the config file's `site`), so a site named anywhere supplies its
 * folder. With no dataset given anywhere, ISBI_DIR or ../shared/datasets/isbi2015_ceph is used.
 */
export async function loadRunConfig(flags: RunConfigFlags, env: NodeJS.ProcessEnv = process.env, base: RunConfigBase = async () => ({})): Promise<RunConfig> {
  const file = flags.config ? await readConfigFile(flags.config) : {};
  const envSite = env[RUN_CONFIG_ENV.site];
  const site = flags.site ?? (envSite || undefined) ?? (typeof file.site === 'string' ? file.site : undefined);
  const raw: Record<string, unknown> = { ...(await base(site)), ...file };
  const envProfile = env[RUN_CONFIG_ENV.profile];
  const envTemplate = env[RUN_CONFIG_ENV.template];
  const envSeed = env[RUN_CONFIG_ENV.seed];
  if (envSite) raw.site = envSite;
  if (envProfile) raw.profile = envProfile;
  if (envTemplate) raw.templateId = envTemplate;
  if (envSeed) raw.seed = toInt('seed', envSeed);
  if (flags.site !== undefined) raw.site = flags.site;
  if (flags.profile !== undefined) raw.profile = flags.profile;
  if (flags.template !== undefined) raw.templateId = flags.template;
  if (flags.seed !== undefined) raw.seed = toInt('seed', flags.seed);
  if (flags.shards !== undefined) raw.pseudoLabelShards = toInt('pseudoLabelShards', flags.shards);
  if (flags.checkpointEvery !== undefined) raw.checkpointEvery = toInt('checkpointEvery', flags.checkpointEvery);
  if (flags.minMre !== undefined) raw.minMre = toNumber('minMre', flags.minMre);
  if (flags.cache === false) raw.cache = false;
  // Another folder may have another layout: detected again below.
  if (flags.dataset !== undefined) raw.dataset = { ...(raw.dataset as object | undefined), dir: path.resolve(flags.dataset), version: undefined, layout: undefined };
  if (flags.spacing !== undefined) raw.dataset = { ...(raw.dataset as object | undefined), pixelSpacingMm: toNumber('dataset.pixelSpacingMm', flags.spacing) };
  if (flags.datasetVersion !== undefined) raw.dataset = { ...(raw.dataset as object | undefined), version: flags.datasetVersion, dir: undefined };
  for (const assignment of flags.set ?? []) {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new InvalidConfigError(`--set ${assignment}: expected field.path=value`);
    setPath(raw, assignment.slice(0, eq), parseYaml(assignment.slice(eq + 1)));
  }
  if (raw.dataset === undefined) {
    // The ISBI folder is the default site's only: a named site without a folder is one not added
    // yet or a typo, and would otherwise train on ISBI and become that site's first champion.
    if (raw.site !== undefined && raw.site !== 'default') {
      throw new InvalidConfigError(
        `config.site: site ${JSON.stringify(raw.site)} is not registered and no dataset was given: add it (${registerSiteHint(String(raw.site))}) or name the data (--dataset DIR or --dataset-version ID)`,
      );
    }
    raw.dataset = { dir: path.resolve(env[RUN_CONFIG_ENV.datasetDir] || DEFAULT_DATASET_DIR) };
  }
  const ds = raw.dataset as Record<string, unknown>;
  if (ds && typeof ds === 'object') {
    for (const k of Object.keys(ds)) if (ds[k] === undefined) delete ds[k];
    // The layout decides the defaults (template, test splits), so a site folder is recognised here.
    if (typeof ds.dir === 'string' && ds.layout === undefined && (await detectDatasetLayout(ds.dir)) === 'site') ds.layout = 'site';
  }
  return parseRunConfig(raw);
}

/** Split membership of a dataset, as the template check needs it. */
export interface DatasetSplits {
  /** split name → ids (e.g. train, test1, test2). */
  [split: string]: string[];
}

/**
 * The checks that need the dataset's split (docs/reliability.md#b6): the template is in the train split and in
 * no test split, every listed train id exists, and (except for a site) at least one requested
 * test split exists.
 * Throws `InvalidConfigError` naming the field.
 */
export function checkConfigAgainstSplits(config: RunConfig, splits: DatasetSplits): void {
  const problems: string[] = [];
  const train = new Set(splits.train ?? []);
  for (const [name, ids] of Object.entries(splits)) {
    if (name !== 'train' && ids.includes(config.templateId)) {
      problems.push(`config.templateId: "${config.templateId}" is in test split "${name}"; the template must be a training image and never a test image (rule B6, docs/reliability.md#b6)`);
    }
  }
  if (!train.has(config.templateId) && !problems.some((p) => p.startsWith('config.templateId'))) {
    problems.push(`config.templateId: "${config.templateId}" is not in the dataset's train split (rule B6, docs/reliability.md#b6)`);
  }
  if (Array.isArray(config.split.trainIds)) {
    const missing = config.split.trainIds.filter((id) => !train.has(id));
    if (missing.length > 0) problems.push(`config.split.trainIds: not in the dataset's train split: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`);
  }
  // A site may have no labelled image besides its template: the run then predicts without metrics.
  if (config.dataset.layout !== 'site' && !config.split.testSplits.some((s) => (splits[s]?.length ?? 0) > 0)) {
    problems.push(`config.split.testSplits: none of [${config.split.testSplits.join(', ')}] exists in the dataset (it has ${Object.keys(splits).join(', ')})`);
  }
  if (problems.length > 0) throw new InvalidConfigError(`invalid run config:\n  - ${problems.join('\n  - ')}`);
}
