/**
 * The SSL stage (CC2D-SSL, cascade matching only) of a FINISHED run, for runs whose stored
 * metrics predate it (`cc2d eval <id> --compute-ssl`). Everything comes from the published run:
 * its lineage manifest names the JSON report, which holds the resolved profile, dataset version,
 * template, test splits and the SSL weights' key + sha256. The computation is the pipeline's own
 * (activities/stage-metrics.ts `evaluateSslStage`), run in this process; the result is stored
 * content-addressed as `runs/<run>/eval/ssl-metrics-<sha256>.json`, beside the published files
 * (the run's manifest is never touched).
 */
import { DatasetReader } from '../activities/dataset-reader';
import { runKeys, runPrefix } from '../infra/storage/keys';
import { evaluateSslStage, sslStageDocument } from '../activities/stage-metrics';
import type { ArtifactRef, BackendRef, MetricSummary } from '../contracts/types';
import type { Profile } from '../ml/profiles';
import { UserError } from '../infra/errors';
import { sha256Hex } from '../infra/storage/hash';
import { readManifest, readManifestFile } from '../infra/storage/manifest';
import { NotFoundError, PreconditionFailedError, type ObjectStore } from '../infra/storage/object-store';

export const SSL_METRICS_FORMAT = 'cc2d-ssl-metrics-v1';

/** What `--compute-ssl` needs of a published run, from its report JSON. */
export interface RunSslSource {
  runId: string;
  reportKey: string;
  datasetVersion: string;
  profile: Profile;
  templateId: string;
  testSplits: Record<string, string[]>;
  sslWeights: Pick<ArtifactRef, 'key' | 'sha256'>;
}

/** The stored SSL-stage file (also what `cc2d eval --compute-ssl --json` prints, minus errors). */
export interface StoredSslStage {
  format: string;
  runId: string;
  datasetVersion: string;
  gridSize: number;
  pixelSpacingMm: number;
  codeVersion: string;
  backend: BackendRef;
  stage: 'ssl';
  templateId: string;
  headlineSet: string;
  weights: { key: string; sha256: string };
  summary: Record<string, Record<string, MetricSummary>>;
  protocols: Record<string, Record<string, unknown>>;
  errors: unknown;
}

const dec = new TextDecoder();

/** Reads the published run's manifest and report; fails with a UserError when the run is not published. */
export async function runSslSource(store: ObjectStore, runId: string): Promise<RunSslSource> {
  const prefix = runPrefix(runId);
  let manifest;
  try {
    manifest = await readManifest(store, prefix, { verify: 'none' });
  } catch (err) {
    if (err instanceof NotFoundError) throw new UserError(`run ${runId} is not published (no ${prefix}/manifest.json): the SSL stage can be computed for completed runs only`);
    throw err;
  }
  const reportKey = manifest.meta.reportKey;
  if (typeof reportKey !== 'string' || !reportKey.startsWith(`${prefix}/`)) throw new UserError(`run ${runId}: its manifest names no report (meta.reportKey)`);
  const report = JSON.parse(dec.decode(await readManifestFile(store, prefix, manifest, reportKey.slice(prefix.length + 1)))) as {
    lineage?: { datasetVersion?: string; templateId?: string; config?: { profile?: Profile } };
    plan?: { testSplits?: Record<string, string[]> };
    artifacts?: { sslWeights?: ArtifactRef };
  };
  const profile = report.lineage?.config?.profile;
  const { datasetVersion, templateId } = report.lineage ?? {};
  const testSplits = report.plan?.testSplits;
  const sslWeights = report.artifacts?.sslWeights;
  const missing = [
    ...(datasetVersion ? [] : ['lineage.datasetVersion']),
    ...(templateId ? [] : ['lineage.templateId']),
    ...(profile && Number.isInteger(profile.inputSize) && profile.ssl ? [] : ['lineage.config.profile']),
    ...(testSplits && Object.keys(testSplits).length > 0 ? [] : ['plan.testSplits']),
    ...(sslWeights?.key && sslWeights.sha256 ? [] : ['artifacts.sslWeights']),
  ];
  if (missing.length > 0) throw new UserError(`run ${runId}: report ${reportKey} lacks ${missing.join(', ')}`);
  return { runId, reportKey, datasetVersion: datasetVersion!, profile: profile!, templateId: templateId!, testSplits: testSplits!, sslWeights: { key: sslWeights!.key, sha256: sslWeights!.sha256 } };
}

/**
 * Computes the SSL stage of a published run with its stored SSL weights and dataset version and
 * stores it (content-addressed; an identical earlier result is kept as is). Returns the document
 * and where it is.
 */
export async function computeRunSslStage(
  store: ObjectStore,
  runId: string,
  env: { backend: BackendRef; codeVersion: string; onProgress?: (done: number, total: number) => void },
  known?: RunSslSource,
): Promise<{ doc: StoredSslStage; ref: ArtifactRef; source: RunSslSource }> {
  const source = known ?? (await runSslSource(store, runId));
  const weights = await store.get(source.sslWeights.key, source.sslWeights.sha256);
  const result = await evaluateSslStage({
    reader: new DatasetReader(store, source.datasetVersion),
    profile: source.profile,
    weights,
    templateId: source.templateId,
    testSplits: source.testSplits,
    ...(env.onProgress ? { onProgress: env.onProgress } : {}),
  });
  const doc: StoredSslStage = {
    format: SSL_METRICS_FORMAT,
    runId,
    datasetVersion: source.datasetVersion,
    gridSize: result.gridSize,
    pixelSpacingMm: result.pixelSpacingMm,
    codeVersion: env.codeVersion,
    backend: env.backend,
    ...sslStageDocument(result, source.sslWeights, source.templateId),
  };
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  const sha256 = sha256Hex(bytes);
  const key = runKeys.sslMetrics(runId, sha256);
  try {
    await store.put(key, bytes, { ifNoneMatch: true, contentType: 'application/json' });
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err; // same key = same bytes: already stored
  }
  return { doc, ref: { key, sha256, size: bytes.byteLength }, source };
}

/** SSL-stage files stored for a run by earlier `--compute-ssl` calls (key order). */
export async function storedSslStages(store: ObjectStore, runId: string): Promise<Array<{ key: string; doc: StoredSslStage }>> {
  const out: Array<{ key: string; doc: StoredSslStage }> = [];
  for (const o of await store.list(runKeys.sslMetricsPrefix(runId))) {
    const sha = /ssl-metrics-([0-9a-f]{64})\.json$/.exec(o.key)?.[1];
    if (!sha) continue;
    const doc = JSON.parse(dec.decode(await store.get(o.key, sha))) as StoredSslStage;
    if (doc.format === SSL_METRICS_FORMAT && doc.stage === 'ssl') out.push({ key: o.key, doc });
  }
  return out;
}
