/**
 * What a comparison needs of one published run, read from its JSON report (named by the run's
 * lineage manifest): config and resolved profile, lineage facts, the unit, landmark names and
 * the per-image errors of the final model and of the SSL stage, per protocol and split. Every
 * number of a comparison is derived from these errors, with the evaluator's own functions.
 */
import { z } from 'zod';
import { MetricsDocumentSchema, REPORT_FORMAT, StageErrorsSchema, type JsonValue } from '../../contracts/documents';
import type { ErrorUnit, StageErrors } from '../../ml/metrics';
import { UserError } from '../errors';
import { runPrefix } from '../storage/keys';
import { readManifestFile, readRunManifest } from '../storage/manifest';
import type { ObjectStore } from '../storage/object-store';
import { InvalidDocumentError, parseJson } from '../storage/read-json';

/**
 * Reads the JSON report of a published run (its manifest's `reportKey`, sha256-checked) with
 * `schema`. A run that is not published, or whose report does not fit, is a UserError saying why
 * `purpose` needs a completed run.
 */
export async function readPublishedReport<S extends z.ZodType>(store: ObjectStore, runId: string, schema: S, purpose: string): Promise<{ reportKey: string; report: z.output<S> }> {
  const prefix = runPrefix(runId);
  const manifest = await readRunManifest(store, runId, purpose);
  const reportKey = manifest.meta.reportKey;
  if (typeof reportKey !== 'string' || !reportKey.startsWith(`${prefix}/`)) throw new UserError(`run ${runId}: its manifest names no report (meta.reportKey)`);
  try {
    return { reportKey, report: parseJson(reportKey, await readManifestFile(store, prefix, manifest, reportKey.slice(prefix.length + 1)), schema) };
  } catch (err) {
    if (err instanceof InvalidDocumentError) throw new UserError(`run ${runId}: ${err.message}`);
    throw err;
  }
}

/** The parts of `runs/<run>/report/report-<sha>.json` a comparison reads (runs without metrics included). */
export const ComparableReportSchema = z.looseObject({
  format: z.literal(REPORT_FORMAT),
  runId: z.string(),
  createdAt: z.string().optional(),
  lineage: z.looseObject({
    datasetVersion: z.string(),
    configHash: z.string().optional(),
    codeVersion: z.string().optional(),
    templateId: z.string(),
    site: z.string().optional(),
    profile: z.string().optional(),
    config: z.looseObject({ config: z.unknown(), profile: z.unknown() }),
  }),
  dataset: z.looseObject({ landmarkNames: z.array(z.string()).optional() }).optional(),
  evaluation: z.looseObject({
    headline: z.looseObject({ mreMm: z.number(), set: z.string().optional(), unit: z.enum(['mm', 'px']).optional() }).optional(),
    noMetrics: z.string().optional(),
    detail: MetricsDocumentSchema.optional(),
    sslStage: z.looseObject({ errors: StageErrorsSchema.optional() }).optional(),
  }),
});
export type ComparableReport = z.infer<typeof ComparableReportSchema>;

export interface RunSnapshot {
  runId: string;
  createdAt?: string;
  site?: string;
  profile?: string;
  datasetVersion: string;
  configHash?: string;
  codeVersion?: string;
  templateId: string;
  /** The validated run config and the resolved profile, as the run stored them. */
  config: { config: JsonValue; profile: JsonValue };
  unit: ErrorUnit;
  /** Protocol B's grid-to-original mapping: 'corner' in runs evaluated before 2026-12-03 (MetricsDocument.protocolB). */
  protocolB: 'cell-centre' | 'corner';
  headline?: { mre: number; set?: string };
  /** Why the run has no metrics (no labelled evaluation image), when it has none. */
  noMetrics?: string;
  landmarkNames: string[];
  /** Per-image errors per protocol and split: the final (TPL) model, and the SSL stage alone when evaluated. */
  errors: { final: StageErrors; ssl?: StageErrors };
}

/** The snapshot of a parsed report (pure). */
export function snapshotOf(report: ComparableReport): RunSnapshot {
  const { lineage, evaluation } = report;
  const detail = evaluation.detail;
  // The SSL stage's errors are in the metrics document; older reports have none.
  const sslErrors = detail?.sslStage?.errors ?? evaluation.sslStage?.errors;
  return {
    runId: report.runId,
    ...(report.createdAt ? { createdAt: report.createdAt } : {}),
    ...(lineage.site ? { site: lineage.site } : {}),
    ...(lineage.profile ? { profile: lineage.profile } : {}),
    datasetVersion: lineage.datasetVersion,
    ...(lineage.configHash ? { configHash: lineage.configHash } : {}),
    ...(lineage.codeVersion ? { codeVersion: lineage.codeVersion } : {}),
    templateId: lineage.templateId,
    config: { config: (lineage.config.config ?? null) as JsonValue, profile: (lineage.config.profile ?? null) as JsonValue },
    unit: evaluation.headline?.unit ?? detail?.unit ?? 'mm',
    protocolB: detail?.protocolB ?? 'corner',
    ...(evaluation.headline ? { headline: { mre: evaluation.headline.mreMm, ...(evaluation.headline.set ? { set: evaluation.headline.set } : {}) } } : {}),
    ...(evaluation.noMetrics ? { noMetrics: evaluation.noMetrics } : {}),
    landmarkNames: report.dataset?.landmarkNames ?? detail?.landmarkNames ?? [],
    errors: { final: (detail?.errors ?? []) as StageErrors, ...(sslErrors && sslErrors.length > 0 ? { ssl: sslErrors as StageErrors } : {}) },
  };
}

/** Reads a published run's snapshot. */
export async function loadRunSnapshot(store: ObjectStore, runId: string): Promise<RunSnapshot> {
  const { report } = await readPublishedReport(store, runId, ComparableReportSchema, 'only completed runs can be compared');
  return snapshotOf(report);
}
