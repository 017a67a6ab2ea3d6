/** TEST-ONLY in-memory ObjectStore that records every write, for "nothing was written" assertions. */
import { createHash } from 'node:crypto';
import { IntegrityError } from '../../../infra/errors';
import { NotFoundError, PreconditionFailedError, type ObjectInfo, type ObjectStore, type PutOptions, type PutResult } from '../../../infra/storage/object-store';

export class RecordingMemoryStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  readonly puts: string[] = [];

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    if (options.ifNoneMatch && this.objects.has(key)) throw new PreconditionFailedError(key);
    this.puts.push(key);
    this.objects.set(key, body.slice());
    return { key, sha256: sha(body), size: body.length };
  }

  async get(key: string, expectSha256?: string): Promise<Uint8Array> {
    const v = this.objects.get(key);
    if (v === undefined) throw new NotFoundError(key);
    if (expectSha256 !== undefined && sha(v) !== expectSha256) throw new IntegrityError(`sha256 mismatch for ${key}`);
    return v.slice();
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(prefix)).map(([key, v]) => ({ key, size: v.length })).sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  async delete(keys: string[]): Promise<void> {
    for (const k of keys) this.objects.delete(k);
  }
}

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
