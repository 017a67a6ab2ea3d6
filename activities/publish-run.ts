/**
 * Publishing a run whose artifacts are already stored (they were written stage by stage): the
 * lineage manifest lists them (key relative to the run prefix, sha256, size) in the format of
 * infra/storage/manifest.ts, after checking each one is present with its recorded size, and is
 * created last with `If-None-Match: *`. Re-publishing identical content is a no-op (a retried
 * report activity); different content is a ManifestConflictError. Artifacts of stages reused
 * from another run are listed in the meta with their source run (a published run: never deleted).
 */
import { canonicalJson } from '../infra/storage/hash';
import { ManifestSchema, type JsonValue, type Manifest } from '../contracts/documents';
import { ManifestConflictError, manifestKeyOf } from '../infra/storage/manifest';
import { IntegrityError } from '../infra/errors';
import { NotFoundError, PreconditionFailedError, type ObjectStore } from '../infra/storage/object-store';
import type { ArtifactRef } from '../contracts/types';

export interface LineageInput {
  runId: string;
  prefix: string;
  artifacts: Record<string, ArtifactRef>;
  /**
   * Artifacts of stages reused from another published run (stage cache): recorded by full key
   * with their source run in `meta.reusedArtifacts`, not as files of this run.
   */
  reused?: Record<string, { runId: string; ref: ArtifactRef }>;
  lineage: Record<string, unknown>;
}

export function buildLineageManifest(input: LineageInput): Manifest {
  const rel = (key: string): string => {
    if (!key.startsWith(`${input.prefix}/`)) throw new Error(`artifact ${key} is outside the run prefix ${input.prefix}`);
    return key.slice(input.prefix.length + 1);
  };
  const files = Object.values(input.artifacts)
    .map((a) => ({ key: rel(a.key), sha256: a.sha256, size: a.size }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const named = Object.fromEntries(Object.entries(input.artifacts).map(([name, a]) => [name, rel(a.key)]));
  const reused = Object.entries(input.reused ?? {});
  const reusedArtifacts = Object.fromEntries(reused.map(([name, r]) => [name, { runId: r.runId, ...r.ref }]));
  const meta = JSON.parse(JSON.stringify({ kind: 'cc2d-run', artifacts: named, ...(reused.length > 0 ? { reusedArtifacts } : {}), ...input.lineage })) as Record<string, JsonValue>;
  return ManifestSchema.parse({ manifestVersion: 1, files, meta });
}

export async function publishExisting(store: ObjectStore, prefix: string, manifest: Manifest): Promise<{ manifestKey: string; alreadyPublished: boolean }> {
  const manifestKey = manifestKeyOf(prefix);
  const bytes = new TextEncoder().encode(canonicalJson(manifest) + '\n');
  const listed = new Map((await store.list(`${prefix}/`)).map((o) => [o.key, o.size]));
  const problems = manifest.files.filter((f) => listed.get(`${prefix}/${f.key}`) !== f.size).map((f) => `${f.key} (expected ${f.size} bytes, found ${listed.get(`${prefix}/${f.key}`) ?? 'none'})`);
  if (problems.length > 0) throw new IntegrityError(`cannot publish ${prefix}: ${problems.join('; ')}`);
  try {
    await store.put(manifestKey, bytes, { ifNoneMatch: true, contentType: 'application/json' });
    return { manifestKey, alreadyPublished: false };
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
    let existing: Uint8Array;
    try {
      existing = await store.get(manifestKey);
    } catch (e) {
      if (e instanceof NotFoundError) throw err;
      throw e;
    }
    if (Buffer.from(existing).equals(Buffer.from(bytes))) return { manifestKey, alreadyPublished: true };
    throw new ManifestConflictError(manifestKey, 'a different manifest was published for this run');
  }
}
