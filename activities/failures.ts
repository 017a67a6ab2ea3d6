/**
 * The failure taxonomy of activities, in one place:
 * - user errors (config, dataset, keys) → non-retryable ApplicationFailure of their type;
 * - a storage error the server marked permanent (400/403/405) → non-retryable `StorageError`;
 * - bytes that fail their hash on every one of `INTEGRITY_READS` reads → non-retryable `CorruptData`
 *   naming the key (a fresh attempt would read the same bytes; a flipped byte in transit is re-read);
 * - everything else (network, S3 outage, worker trouble) → retryable.
 * Messages are already scrubbed of secrets by the storage layer.
 */
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { IntegrityError, UserError } from '../infra/errors';
import { StorageError } from '../infra/storage/s3-store';
import { NotFoundError, type ObjectStore } from '../infra/storage/object-store';

/** How often a read whose bytes fail their hash is tried before the object counts as corrupt. */
export const INTEGRITY_READS = 3;

/** An object whose bytes failed their hash on every read: retrying the activity cannot help. */
export class CorruptDataError extends IntegrityError {
  constructor(readonly what: string, reads: number, cause: IntegrityError) {
    super(`corrupt data: ${what} failed its integrity check on ${reads} reads (${cause.message})`);
    this.name = 'CorruptData';
  }
}

export function toActivityFailure(err: unknown): unknown {
  if (err instanceof CancelledFailure || err instanceof ApplicationFailure) return err;
  if (err instanceof UserError) return ApplicationFailure.nonRetryable(err.message, err.type);
  if (err instanceof CorruptDataError) return ApplicationFailure.nonRetryable(err.message, 'CorruptData');
  if (err instanceof StorageError && !err.retryable) {
    return ApplicationFailure.create({ message: err.message, type: 'StorageError', nonRetryable: true });
  }
  return err;
}

/** Wraps an activity so thrown errors follow the taxonomy above. */
export function activity<I, O>(fn: (input: I) => Promise<O>): (input: I) => Promise<O> {
  return async (input: I) => {
    try {
      return await fn(input);
    } catch (err) {
      throw toActivityFailure(err);
    }
  };
}

/** A storage/network error worth retrying (the activity retry policy takes over after withStorageRetry). */
export function isTransientStorage(err: unknown): boolean {
  if (err instanceof StorageError) return err.retryable;
  if (err instanceof UserError || err instanceof NotFoundError || err instanceof CancelledFailure) return false;
  const name = (err as Error | undefined)?.name ?? '';
  return /Timeout|ECONNREFUSED|ECONNRESET|EPIPE|socket|network/i.test(`${name} ${(err as Error | undefined)?.message ?? ''}`);
}

/** One failed storage try that withStorageRetry will retry: what tests (and metrics) count to prove an outage was hit. */
export interface StorageRetryEvent {
  what: string;
  /** 1 for the first failed try of this call. */
  attempt: number;
  delayMs: number;
  error: string;
  /** The activity type and attempt it happened in (undefined outside an activity). */
  activity?: { type: string; attempt: number };
  /** Heartbeats sent while waiting for this retry. */
  heartbeats: number;
}

const retryObservers = new Set<(e: StorageRetryEvent) => void>();

/** Calls `fn` after each storage retry's wait in this process; returns the unsubscribe function. */
export function observeStorageRetries(fn: (e: StorageRetryEvent) => void): () => void {
  retryObservers.add(fn);
  return () => retryObservers.delete(fn);
}

/**
 * Retries a storage call through a short outage (docs/reliability.md#f6) while keeping the activity's
 * heartbeat alive, so a 20–60 s S3 blip costs a pause, not an attempt. Gives up after `budgetMs`
 * and rethrows (the activity retry policy takes over). Cancellation is honoured between tries.
 * Bytes failing their hash (docs/reliability.md#f7) are re-read up to INTEGRITY_READS times in all,
 * then reported as CorruptDataError.
 */
export async function withStorageRetry<T>(what: string, fn: () => Promise<T>, budgetMs = 120_000): Promise<T> {
  const started = Date.now();
  let delay = 500;
  let integrityFailures = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof IntegrityError && !(err instanceof CorruptDataError)) {
        if (++integrityFailures >= INTEGRITY_READS) throw new CorruptDataError(what, integrityFailures, err);
      } else if (!isTransientStorage(err) || Date.now() - started + delay > budgetMs) {
        throw err;
      }
      let ctx: Context | undefined;
      try {
        ctx = Context.current();
      } catch {
        ctx = undefined;
      }
      const error = (err as Error).message;
      ctx?.log.warn(`storage: ${what} failed (try ${attempt}), retrying in ${delay} ms`, { error });
      let heartbeats = 0;
      if (ctx) {
        // A backoff longer than the heartbeat timeout would time the attempt out: heartbeat in slices
        // (one heartbeat per wait when the activity has no heartbeat timeout: 0).
        const slice = Math.max(500, Math.floor((ctx.info.heartbeatTimeoutMs || 2 * delay) / 2));
        for (let waited = 0; waited < delay; waited += slice) {
          ctx.heartbeat(activityHeartbeatDetails(ctx));
          heartbeats++;
          await ctx.sleep(Math.min(slice, delay - waited));
        }
      } else {
        await new Promise((r) => setTimeout(r, delay));
      }
      const event: StorageRetryEvent = {
        what, attempt, delayMs: delay, error, heartbeats,
        ...(ctx ? { activity: { type: ctx.info.activityType, attempt: ctx.info.attempt } } : {}),
      };
      for (const observe of retryObservers) observe(event);
      delay = Math.min(delay * 2, 8_000);
    }
  }
}

/**
 * `store` with every call through withStorageRetry: what the activities hand to helpers outside
 * activities/ (dataset reader, readJson), so their reads ride out short outages too.
 */
export function retryingStore(store: ObjectStore): ObjectStore {
  return {
    put: (key, body, options) => withStorageRetry(`put ${key}`, () => store.put(key, body, options)),
    get: (key, expectSha256) => withStorageRetry(`get ${key}`, () => store.get(key, expectSha256)),
    exists: (key) => withStorageRetry(`exists ${key}`, () => store.exists(key)),
    list: (prefix) => withStorageRetry(`list ${prefix}`, () => store.list(prefix)),
    delete: (keys) => withStorageRetry(`delete ${keys.length} objects`, () => store.delete(keys)),
  };
}

const lastDetails = new WeakMap<Context, unknown>();

/** Remembers the last heartbeat details so a keep-alive heartbeat does not erase them. */
export function rememberHeartbeat(ctx: Context, details: unknown): void {
  lastDetails.set(ctx, details);
}

function activityHeartbeatDetails(ctx: Context): unknown {
  return lastDetails.get(ctx) ?? ctx.info.heartbeatDetails;
}
