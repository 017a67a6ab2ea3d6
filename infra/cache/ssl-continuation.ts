/**
 * SSL continuation: a run whose SSL key misses the stage cache, but whose SSL key fields equal an
 * earlier published run's in everything except `ssl.steps` (more steps now), starts its SSL stage
 * from that run's last durable checkpoint instead of from step 0. The result is the same weights:
 * a checkpoint holds weights, optimizer, PRNG and step, resuming is bit-identical (the
 * checkpoint-resume tests), and the SSL learning rate depends only on the step
 * (lr·gamma^⌊step/lrStepEvery⌋), not on the total. So the SSL key stays that of a fresh run and the
 * continued run records its own cache entry like any run that computed its stage.
 *
 * Candidates are the SSL entries of the stage cache whose `fields` hash to their key; the one with
 * the checkpoint of the highest step wins, and it is used only when its run is still published
 * and the checkpoint's manifest and blob are intact. The training activity then continues only on
 * the backend, TF versions and TF_ENABLE_ONEDNN_OPTS the earlier run trained on (otherwise float rounding differs); the
 * CPU model is not recorded, so across CPU models the continued weights differ from a fresh run's
 * by rounding, as any stage-cache hit across machines does. Every SSL entry is read on an SSL miss:
 * dozens of small documents in a deployment's store, not worth an index yet.
 */
import { CheckpointManifestSchema, StageCacheEntrySchema, type CheckpointManifest, type StageCacheEntry } from '../../contracts/documents';
import type { ArtifactRef, SslContinuation } from '../../contracts/types';
import { sha256OfJson } from '../storage/hash';
import { runPrefix } from '../storage/keys';
import { isPublished } from '../storage/manifest';
import { NotFoundError, type ObjectStore } from '../storage/object-store';
import { InvalidDocumentError, readJson } from '../storage/read-json';

const SSL_CACHE_DIR = 'cache/ssl/';

/** `ssl.steps` of an SSL key's fields, or undefined when the fields are not an SSL key's. */
export function sslStepsOf(fields: Readonly<Record<string, unknown>>): number | undefined {
  const steps = (fields.ssl as { steps?: unknown } | undefined)?.steps;
  return typeof steps === 'number' && Number.isInteger(steps) ? steps : undefined;
}

/** The SSL key fields with `ssl.steps` left out: equal for two runs that differ only in their length. */
function withoutSteps(fields: Readonly<Record<string, unknown>>): unknown {
  const { steps: _steps, ...ssl } = fields.ssl as Record<string, unknown>;
  return { ...fields, ssl };
}

/**
 * Entries a run with SSL key `fields` may continue from: same fields but fewer steps, with a
 * checkpoint kept. Newest checkpoint first is decided by the caller (the step is in the manifest).
 */
export function continuableEntries(entries: readonly StageCacheEntry[], fields: Readonly<Record<string, unknown>>): StageCacheEntry[] {
  const steps = sslStepsOf(fields);
  if (steps === undefined) return [];
  const lineage = sha256OfJson(withoutSteps(fields));
  return entries.filter((e) => {
    const theirSteps = sslStepsOf(e.fields);
    // `fields` must be what the entry's key hashed, and the stored result that many steps long.
    return e.stage === 'ssl' && e.train?.lastCheckpoint !== undefined && theirSteps !== undefined && theirSteps < steps && e.train.steps === theirSteps &&
      sha256OfJson(e.fields) === e.key && sha256OfJson(withoutSteps(e.fields)) === lineage;
  });
}

/** The manifest beside a checkpoint blob (`…/<step>-a<attempt>/state.ckpt` → `…/manifest.json`). */
export function checkpointManifestKey(blobKey: string): string {
  return blobKey.replace(/\/[^/]+$/, '/manifest.json');
}

/** Whether `manifest` is the one SSL checkpoint `checkpoint` of run `sourceRunId` was saved with. */
export function manifestDescribes(manifest: CheckpointManifest, sourceRunId: string, checkpoint: ArtifactRef): boolean {
  return manifest.kind === 'ssl' && manifest.runId === sourceRunId && manifest.blob.sha256 === checkpoint.sha256;
}

async function readEntries(store: ObjectStore): Promise<StageCacheEntry[]> {
  const keys = (await store.list(SSL_CACHE_DIR)).map((o) => o.key).filter((k) => k.endsWith('.json'));
  const entries: StageCacheEntry[] = [];
  for (const key of keys) {
    try {
      entries.push(await readJson(store, key, StageCacheEntrySchema));
    } catch (err) {
      if (!(err instanceof NotFoundError || err instanceof InvalidDocumentError)) throw err;
    }
  }
  return entries;
}

/** The usable checkpoint a run with SSL key `fields` continues from, or undefined (train from step 0). */
export async function findSslContinuation(store: ObjectStore, fields: Readonly<Record<string, unknown>>): Promise<SslContinuation | undefined> {
  const found: SslContinuation[] = [];
  for (const entry of continuableEntries(await readEntries(store), fields)) {
    const checkpoint = entry.train!.lastCheckpoint!;
    const manifestKey = checkpointManifestKey(checkpoint.key);
    let manifest;
    try {
      manifest = await readJson(store, manifestKey, CheckpointManifestSchema);
    } catch (err) {
      if (err instanceof NotFoundError || err instanceof InvalidDocumentError) continue;
      throw err;
    }
    if (!manifestDescribes(manifest, entry.sourceRunId, checkpoint) || manifest.step < 1) continue;
    found.push({ sourceRunId: entry.sourceRunId, step: manifest.step, manifestKey, checkpoint, backend: entry.train!.backend });
  }
  found.sort((a, b) => b.step - a.step || a.sourceRunId.localeCompare(b.sourceRunId));
  for (const c of found) {
    if ((await isPublished(store, runPrefix(c.sourceRunId))) && (await store.exists(c.checkpoint.key))) return c;
  }
  return undefined;
}
