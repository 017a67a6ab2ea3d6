/**
 * Publish-by-manifest: a prefix is "published" exactly when `<prefix>/manifest.json` exists.
 *
 * `publishWithManifest` validates every key first (InvalidDatasetKeyError before any write),
 * uploads every object, and writes the manifest LAST with a conditional create
 * (`If-None-Match: *`). The manifest lists each object's sha256 and size plus caller metadata,
 * serialised canonically (sorted files, sorted object keys) so the same content always gives
 * the same bytes:
 *   - manifest already there with identical content -> success, nothing rewritten (idempotent
 *     re-publish, e.g. an activity retried after its completion was lost);
 *   - manifest already there with different content -> ManifestConflictError, nothing written;
 *   - crash before the manifest -> the prefix stays "not published"; a retry overwrites the
 *     orphaned objects and then creates the manifest.
 * A prefix is owned by one publisher at a time (put the attempt number in the prefix when
 * attempts can overlap): two publishers racing with different content under one prefix are
 * detected (one gets ManifestConflictError, readers verify hashes), not prevented.
 */
import { ManifestSchema, type JsonValue, type Manifest } from '../../contracts/documents';
import { IntegrityError, InvalidDatasetKeyError, UserError } from '../errors';
import { canonicalJson, sha256Hex } from './hash';
import { assertValidKeys, normalizePrefix, runPrefix } from './keys';
import { NotFoundError, PreconditionFailedError, type ObjectStore } from './object-store';
import { parseJson } from './read-json';

export const MANIFEST_NAME = 'manifest.json';

export interface PublishFile {
  /** Key relative to the prefix, e.g. `images/001.bin`. */
  relKey: string;
  bytes: Uint8Array;
  contentType?: string;
}

export interface PublishResult {
  prefix: string;
  manifestKey: string;
  /** sha256 of the manifest bytes: a content address of the whole published set. */
  manifestSha256: string;
  manifest: Manifest;
  /** True when this call found the identical manifest already there and wrote nothing. */
  alreadyPublished: boolean;
}

/** The manifest exists with different content. Non-retryable: a retry cannot fix it. */
export class ManifestConflictError extends UserError {
  constructor(readonly manifestKey: string, detail: string) {
    super(`${manifestKey} already exists with different content (${detail})`, 'ManifestConflict');
  }
}

export function manifestKeyOf(prefix: string): string {
  const p = normalizePrefix(prefix);
  return p === '' ? MANIFEST_NAME : `${p}/${MANIFEST_NAME}`;
}

function join(prefix: string, rel: string): string {
  return prefix === '' ? rel : `${prefix}/${rel}`;
}

/** Builds the manifest (and its canonical bytes) for `files` without writing anything. */
export function buildManifest(files: readonly PublishFile[], meta: Record<string, JsonValue>): { manifest: Manifest; bytes: Uint8Array } {
  const entries = files
    .map((f) => ({ key: f.relKey, sha256: sha256Hex(f.bytes), size: f.bytes.byteLength }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const manifest = ManifestSchema.parse({ manifestVersion: 1, files: entries, meta });
  return { manifest, bytes: new TextEncoder().encode(canonicalJson(manifest) + '\n') };
}

function describeDifference(a: Manifest, b: Manifest): string {
  const am = new Map(a.files.map((f) => [f.key, f]));
  const bm = new Map(b.files.map((f) => [f.key, f]));
  const diffs: string[] = [];
  for (const [k, f] of bm) {
    const o = am.get(k);
    if (!o) diffs.push(`+${k}`);
    else if (o.sha256 !== f.sha256 || o.size !== f.size) diffs.push(`~${k}`);
  }
  for (const k of am.keys()) if (!bm.has(k)) diffs.push(`-${k}`);
  if (canonicalJson(a.meta) !== canonicalJson(b.meta)) diffs.push('meta differs');
  return diffs.slice(0, 10).join(', ') + (diffs.length > 10 ? `, ... (${diffs.length} differences)` : '');
}

async function readExisting(store: ObjectStore, manifestKey: string): Promise<{ bytes: Uint8Array; manifest: Manifest } | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(manifestKey);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  return { bytes, manifest: parseManifest(manifestKey, bytes) };
}

function parseManifest(manifestKey: string, bytes: Uint8Array): Manifest {
  const manifest = parseJson(manifestKey, bytes, ManifestSchema);
  assertValidKeys(manifest.files.map((f) => f.key));
  return manifest;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Uploads `files` under `prefix`, then creates `<prefix>/manifest.json` last (see file comment). */
export async function publishWithManifest(
  store: ObjectStore,
  prefix: string,
  files: readonly PublishFile[],
  meta: Record<string, JsonValue> = {},
): Promise<PublishResult> {
  // 1. Validate everything before any request.
  const p = normalizePrefix(prefix);
  assertValidKeys(files.map((f) => f.relKey));
  const seen = new Set<string>();
  const dupes = files.map((f) => f.relKey).filter((k) => (seen.has(k) ? true : (seen.add(k), false)));
  const offenders = [...new Set(dupes)].map((k) => `${JSON.stringify(k)} (duplicate)`);
  if (seen.has(MANIFEST_NAME)) offenders.push(`${JSON.stringify(MANIFEST_NAME)} (reserved for the manifest)`);
  if (offenders.length > 0) throw new InvalidDatasetKeyError(offenders);
  const { manifest, bytes } = buildManifest(files, meta);
  const manifestKey = manifestKeyOf(p);
  const result = (alreadyPublished: boolean): PublishResult => ({
    prefix: p,
    manifestKey,
    manifestSha256: sha256Hex(bytes),
    manifest,
    alreadyPublished,
  });

  // 2. Already published? Identical -> done; different -> refuse without touching anything.
  const existing = await readExisting(store, manifestKey);
  if (existing) {
    if (sameBytes(existing.bytes, bytes)) return result(true);
    throw new ManifestConflictError(manifestKey, describeDifference(existing.manifest, manifest));
  }

  // 3. Objects, then the manifest with a conditional create.
  for (const f of files) {
    await store.put(join(p, f.relKey), f.bytes, f.contentType !== undefined ? { contentType: f.contentType } : {});
  }
  try {
    await store.put(manifestKey, bytes, { ifNoneMatch: true, contentType: 'application/json' });
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
    const raced = await readExisting(store, manifestKey);
    if (raced && sameBytes(raced.bytes, bytes)) return result(true);
    throw new ManifestConflictError(manifestKey, raced ? describeDifference(raced.manifest, manifest) : 'created concurrently');
  }
  return result(false);
}

export interface ReadManifestOptions {
  /**
   * - `sizes` (default): one listing of the prefix; every file present with its manifest size.
   * - `hashes`: downloads and sha256-checks every file (IntegrityError naming the key).
   * - `none`: parse the manifest only.
   */
  verify?: 'sizes' | 'hashes' | 'none';
}

/** Reads and verifies `<prefix>/manifest.json`. Throws NotFoundError when not published. */
export async function readManifest(store: ObjectStore, prefix: string, opts: ReadManifestOptions = {}): Promise<Manifest> {
  const p = normalizePrefix(prefix);
  const manifestKey = manifestKeyOf(p);
  const existing = await readExisting(store, manifestKey);
  if (!existing) throw new NotFoundError(manifestKey);
  const m = existing.manifest;
  const verify = opts.verify ?? 'sizes';
  if (verify === 'sizes') {
    const listed = new Map((await store.list(p === '' ? '' : `${p}/`)).map((o) => [o.key, o.size]));
    const problems: string[] = [];
    for (const f of m.files) {
      const size = listed.get(join(p, f.key));
      if (size === undefined) problems.push(`${join(p, f.key)} missing`);
      else if (size !== f.size) problems.push(`${join(p, f.key)} has ${size} bytes, manifest says ${f.size}`);
    }
    if (problems.length > 0) throw new IntegrityError(`published set ${p} does not match its manifest: ${problems.slice(0, 10).join('; ')}`);
  } else if (verify === 'hashes') {
    for (const f of m.files) await readManifestFile(store, p, m, f.key);
  }
  return m;
}

/** Reads one file of a published set, verifying its sha256 and size against the manifest. */
export async function readManifestFile(store: ObjectStore, prefix: string, manifest: Manifest, relKey: string): Promise<Uint8Array> {
  const p = normalizePrefix(prefix);
  const entry = manifest.files.find((f) => f.key === relKey);
  if (!entry) throw new NotFoundError(join(p, relKey));
  const bytes = await store.get(join(p, relKey), entry.sha256);
  if (bytes.byteLength !== entry.size) throw new IntegrityError(`size mismatch for ${join(p, relKey)}: expected ${entry.size}, got ${bytes.byteLength}`);
  return bytes;
}

/** True when `<prefix>/manifest.json` exists (the set is complete and visible). */
export async function isPublished(store: ObjectStore, prefix: string): Promise<boolean> {
  return store.exists(manifestKeyOf(prefix));
}

/**
 * The lineage manifest of a published run; a UserError when the run is not published (saying, when
 * given, what `purpose` needs a completed run for).
 */
export async function readRunManifest(store: ObjectStore, runId: string, purpose?: string): Promise<Manifest> {
  const prefix = runPrefix(runId);
  const why = purpose ? `: ${purpose}` : '';
  try {
    return checkRunId(await readManifest(store, prefix, { verify: 'none' }), runId, prefix);
  } catch (err) {
    if (err instanceof RunIdMismatchError) throw new UserError(`run ${runId} is not published (${err.message})${why}`);
    if (err instanceof NotFoundError) throw new UserError(`run ${runId} is not published (no ${prefix}/manifest.json; is the run completed?)${why}`);
    throw err;
  }
}

/** The folder of a run id holds another run's manifest (keys fold ':' into '_', runSegment). */
export class RunIdMismatchError extends Error {
  constructor(readonly runId: string, readonly publishedRunId: string, readonly prefix: string) {
    super(`${prefix}/ holds run ${publishedRunId}, not ${runId}`);
    this.name = 'RunIdMismatchError';
  }
}

/**
 * The manifest of `runId`'s folder, checked to be that run's: the folder of run "a:b" answers for
 * "a_b" too, so the manifest's own run id decides (manifests without one are taken as they are).
 */
export function checkRunId(manifest: Manifest, runId: string, prefix = runPrefix(runId)): Manifest {
  const published = (manifest.meta as { runId?: unknown } | undefined)?.runId;
  if (typeof published === 'string' && published !== runId) throw new RunIdMismatchError(runId, published, prefix);
  return manifest;
}
