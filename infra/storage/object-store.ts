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
  /** Conditional replace (`If-Match: <etag>`): fails with `PreconditionFailedError` if the object changed or is gone. */
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

export class NotFoundError extends Error {
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
    this.name = 'NotFoundError';
  }
}

export class PreconditionFailedError extends Error {
  constructor(readonly key: string) {
    super(`object already exists: ${key}`);
    this.name = 'PreconditionFailedError';
  }
}
