/**
 * The artifact store as the rest of the project sees it. The implementation is S3
 * (infra/storage/s3-store.ts); keys are relative to the configured bucket prefix.
 * Every put returns the sha256 of what was stored; gets can verify against an expected hash.
 */
export interface PutResult {
  key: string;
  sha256: string;
  size: number;
}

export interface PutOptions {
  contentType?: string;
  /** Conditional create (`If-None-Match: *`): fails with `PreconditionFailedError` if the key exists. */
  ifNoneMatch?: boolean;
  /** Compare-and-swap: replaces the object only while its ETag is still this one (`If-Match`); `PreconditionFailedError` otherwise. */
  ifMatch?: string;
}

export interface ObjectInfo {
  key: string;
  size: number;
}

export interface ObjectStore {
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<PutResult>;
  /** Throws `NotFoundError` when absent; `IntegrityError` when `expectSha256` is given and differs. */
  get(key: string, expectSha256?: string): Promise<Uint8Array>;
  exists(key: string): Promise<boolean>;
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(keys: string[]): Promise<void>;
}

/** An object's bytes with the ETag they were read at (the token for a later `ifMatch` put). */
export interface VersionedObject {
  body: Uint8Array;
  etag: string;
}

/** A store that can read an object together with its ETag, for compare-and-swap updates. */
export interface VersionedObjectStore extends ObjectStore {
  /** undefined when absent. */
  getVersioned(key: string): Promise<VersionedObject | undefined>;
}

export function isVersionedStore(store: ObjectStore): store is VersionedObjectStore {
  return typeof (store as Partial<VersionedObjectStore>).getVersioned === 'function';
}

export class NotFoundError extends Error {
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
    this.name = 'NotFoundError';
  }
}

export class PreconditionFailedError extends Error {
  constructor(readonly key: string) {
    super(`object already exists or changed: ${key}`);
    this.name = 'PreconditionFailedError';
  }
}
