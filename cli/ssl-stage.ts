/**
 * The SSL stage (CC2D-SSL, cascade matching only) of a FINISHED run, for runs whose stored
 * metrics predate it (`cc2d eval <id> --compute-ssl`). Everything comes from the published run:
 * its lineage manifest names the JSON report, which holds the resolved profile, dataset version,
 * template, test splits and the SSL weights' key + sha256. The computation is the pipeline's own
 * (infra/evaluation/ssl-stage.ts `evaluateSslStage`), run in this process; the result is stored
 * content-addressed as `runs/<run>/eval/ssl-metrics-<sha256>.json`, beside the published files
 * (the run's manifest is never touched).
 */
import { RunReportDocumentSchema, SSL_METRICS_FORMAT, StoredSslStageSchema, type StoredSslStage } from '../contracts/documents';
import type { ArtifactRef, BackendRef } from '../contracts/types';
import { DatasetReader } from '../infra/dataset/reader';
import { evaluateSslStage, sslStageDocument } from '../infra/evaluation/ssl-stage';
import { prototypePoolIds } from '../ml/ssl';
import { sha256Hex } from '../infra/storage/hash';
import { readPublishedReport } from '../infra/compare/snapshot';
import { runKeys } from '../infra/storage/keys';
import { PreconditionFailedError, type ObjectStore } from '../infra/storage/object-store';
import { InvalidDocumentError, readJson } from '../infra/storage/read-json';
import type { Profile } from '../ml/profiles';

/** What `--compute-ssl` needs of a published run, from its report JSON. */
export interface RunSslSource {
  runId: string;
  reportKey: string;
  datasetVersion: string;
  profile: Profile;
  templateId: string;
  testSplits: Record<string, string[]>;
  sslWeights: Pick<ArtifactRef, 'key' | 'sha256'>;
  /** The run's training ids (the prototypes' pool, template excluded); absent in reports that predate the field. */
  trainIds?: string[];
}

/** The stored SSL-stage file (also what `cc2d eval --compute-ssl --json` prints, minus errors). */
export type { StoredSslStage };

/** Reads the published run's manifest and report; fails with a UserError when the run is not published. */
export async function runSslSource(store: ObjectStore, runId: string): Promise<RunSslSource> {
  const { reportKey, report } = await readPublishedReport(store, runId, RunReportDocumentSchema, 'the SSL stage can be computed for completed runs only');
  const { lineage, plan, artifacts } = report;
  return {
    runId, reportKey, datasetVersion: lineage.datasetVersion, profile: lineage.config.profile as unknown as Profile, templateId: lineage.templateId,
    testSplits: plan.testSplits, sslWeights: { key: artifacts.sslWeights.key, sha256: artifacts.sslWeights.sha256 },
    ...(Array.isArray(lineage.trainIds) ? { trainIds: lineage.trainIds as string[] } : {}),
  };
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
    ...(source.trainIds ? { poolIds: prototypePoolIds(source.trainIds, source.templateId) } : {}),
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
    try {
      out.push({ key: o.key, doc: await readJson(store, { key: o.key, sha256: sha }, StoredSslStageSchema) });
    } catch (err) {
      if (!(err instanceof InvalidDocumentError)) throw err; // another format: not an SSL-stage result
    }
  }
  return out;
}
