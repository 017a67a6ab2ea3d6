/**
 * Durable training checkpoints (docs/reliability.md#checkpoint-design):
 * 1. the blob (weights + optimizer + PRNG + step, from Trainer.checkpoint()) is written under
 *    `runs/<run>/<kind>/ckpt/<step>-a<attempt>/state.ckpt`;
 * 2. then a small manifest (sha256, step, attempt, input fingerprint) with a conditional create
 *    (`If-None-Match: *`), so a stale attempt can never replace it;
 * 3. then the heartbeat details name {checkpointKey, manifestKey, sha256, checkpointStep}.
 * On resume the candidates are the heartbeat's checkpoint and every other manifest of the run's
 * stage, newest step first; one is used only if its manifest parses, its fingerprint matches
 * this input, and the blob's sha256 matches. Corrupt ones are logged and skipped (the previous
 * one is tried next).
 */
import { CHECKPOINT_MANIFEST_FORMAT, CheckpointManifestSchema, type CheckpointManifest } from '../contracts/documents';
import type { ObjectStore } from '../infra/storage/object-store';
import { NotFoundError, PreconditionFailedError } from '../infra/storage/object-store';
import { InvalidDocumentError, readJson } from '../infra/storage/read-json';
import { runKeys, type TrainKind } from '../infra/storage/keys';
import type { ArtifactRef, TrainHeartbeat } from '../contracts/types';
import { retryingStore, withStorageRetry } from './failures';

export interface LoadedCheckpoint {
  manifest: CheckpointManifest;
  manifestKey: string;
  bytes: Uint8Array;
}

interface Logger {
  warn(message: string, attrs?: Record<string, unknown>): void;
  info(message: string, attrs?: Record<string, unknown>): void;
}

const enc = new TextEncoder();

export class CheckpointStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly runId: string,
    private readonly kind: TrainKind,
    private readonly fingerprint: string,
    private readonly log: Logger,
  ) {}

  /** Writes blob then manifest; returns the heartbeat fields naming the new checkpoint. */
  async save(
    bytes: Uint8Array, step: number, totalSteps: number, attempt: number, loss: number, lossLog?: Uint8Array, continuedFrom?: CheckpointManifest['continuedFrom'],
  ): Promise<Required<Pick<TrainHeartbeat, 'checkpointKey' | 'manifestKey' | 'sha256' | 'checkpointStep'>> & { blob: ArtifactRef }> {
    const keys = runKeys.checkpoint(this.runId, this.kind, step, attempt);
    const blob = await withStorageRetry(`put ${keys.blob}`, () => this.store.put(keys.blob, bytes));
    const log = lossLog
      ? await withStorageRetry(`put ${keys.lossLog}`, () => this.store.put(keys.lossLog, lossLog, { contentType: 'application/json' }))
      : undefined;
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_MANIFEST_FORMAT, kind: this.kind, runId: this.runId, fingerprint: this.fingerprint,
      step, totalSteps, attempt, loss, blob, ...(log ? { lossLog: log } : {}), ...(continuedFrom ? { continuedFrom } : {}), createdAt: new Date().toISOString(),
    };
    const body = enc.encode(JSON.stringify(manifest));
    try {
      await withStorageRetry(`put ${keys.manifest}`, () => this.store.put(keys.manifest, body, { ifNoneMatch: true, contentType: 'application/json' }));
    } catch (err) {
      // Our own earlier try may have landed before its response was lost: fine if it names the same blob.
      if (!(err instanceof PreconditionFailedError)) throw err;
      const existing = await this.readManifest(keys.manifest);
      if (existing?.blob.sha256 !== blob.sha256) throw new Error(`checkpoint manifest ${keys.manifest} exists with another blob; refusing to overwrite`);
    }
    return { checkpointKey: blob.key, manifestKey: keys.manifest, sha256: blob.sha256, checkpointStep: step, blob };
  }

  private async readManifest(key: string): Promise<CheckpointManifest | undefined> {
    try {
      return await readJson(retryingStore(this.store), key, CheckpointManifestSchema);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      if (!(err instanceof InvalidDocumentError)) throw err;
      this.log.warn('checkpoint manifest is not valid; skipped', { key, error: err.message });
      return undefined;
    }
  }

  /**
   * Manifest keys to try, newest first (by step, then attempt): every manifest of this run and
   * stage, plus the one the heartbeat names. The newest verified one wins even when it is not
   * the heartbeat's: heartbeats are throttled (80 % of the timeout), so the last one that reached
   * the server can name an older checkpoint than the newest durable one.
   */
  private async candidates(hb: TrainHeartbeat | undefined): Promise<string[]> {
    const listed = await withStorageRetry('list checkpoints', () => this.store.list(`${runKeys.checkpointDir(this.runId, this.kind)}/`));
    const keys = new Set(listed.map((o) => o.key).filter((k) => k.endsWith('/manifest.json')));
    if (hb?.manifestKey) keys.add(hb.manifestKey);
    const order = (k: string): [number, number] => {
      const m = /\/(\d+)-a(\d+)\/manifest\.json$/.exec(k);
      return m ? [Number(m[1]), Number(m[2])] : [-1, -1];
    };
    return [...keys].sort((a, b) => {
      const [sa, aa] = order(a);
      const [sb, ab] = order(b);
      return sb - sa || ab - aa;
    });
  }

  /** The loss log stored with a checkpoint, or undefined when absent or corrupt (the curve then has a gap). */
  async readLossLog(manifest: CheckpointManifest): Promise<Uint8Array | undefined> {
    if (!manifest.lossLog) return undefined;
    const ref = manifest.lossLog;
    try {
      return await withStorageRetry(`get ${ref.key}`, () => this.store.get(ref.key, ref.sha256));
    } catch (err) {
      this.log.warn('loss log of the checkpoint is missing or corrupt; the loss curve will start at the resume step', { key: ref.key, error: (err as Error).message });
      return undefined;
    }
  }

  /**
   * The newest verified checkpoint, or undefined to start from scratch. `accept` lets the caller
   * reject a blob that fails to decode (it is then skipped like a corrupt one).
   */
  async loadLatest(hb: TrainHeartbeat | undefined, accept: (c: LoadedCheckpoint) => Promise<boolean>): Promise<LoadedCheckpoint | undefined> {
    for (const key of await this.candidates(hb)) {
      const manifest = await this.readManifest(key);
      if (!manifest) continue;
      if (manifest.fingerprint !== this.fingerprint || manifest.kind !== this.kind) {
        this.log.warn('checkpoint belongs to another training input; skipped', { key });
        continue;
      }
      let bytes: Uint8Array;
      try {
        bytes = await withStorageRetry(`get ${manifest.blob.key}`, () => this.store.get(manifest.blob.key, manifest.blob.sha256));
      } catch (err) {
        this.log.warn('checkpoint blob missing or corrupt (sha256 mismatch); falling back to an older one', { key: manifest.blob.key, error: (err as Error).message });
        continue;
      }
      const loaded = { manifest, manifestKey: key, bytes };
      if (await accept(loaded)) {
        this.log.info('resuming from checkpoint', { step: manifest.step, key: manifest.blob.key, sha256: manifest.blob.sha256 });
        return loaded;
      }
      this.log.warn('checkpoint did not load; falling back to an older one', { key: manifest.blob.key });
    }
    return undefined;
  }
}
