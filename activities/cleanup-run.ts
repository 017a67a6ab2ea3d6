/**
 * Removing a run's unpublished objects (checkpoints, finished stages' results, partial
 * artifacts). Cancelling or failing a run keeps them so `cc2d resume` can continue it; they go
 * only on request (`cc2d cancel --purge`). A published run (its lineage manifest exists) is never
 * touched. Datasets are shared, content-addressed and published by ingestion, so they are not the
 * run's to delete.
 */
import { Context } from '@temporalio/activity';
import { isPublished } from '../infra/storage/manifest';
import type { ObjectStore } from '../infra/storage/object-store';
import { withStorageRetry } from './failures';
import { runPrefix } from '../infra/storage/keys';
import type { CleanupRunInput, CleanupRunOutput } from '../contracts/types';

/** Deletes every object under the run's prefix unless the run is published. */
export async function removeUnpublishedRunObjects(store: ObjectStore, runId: string): Promise<CleanupRunOutput> {
  const prefix = runPrefix(runId);
  if (await withStorageRetry('isPublished', () => isPublished(store, prefix))) return { deleted: 0, published: true };
  const keys = (await withStorageRetry('list run', () => store.list(`${prefix}/`))).map((o) => o.key);
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500);
    await withStorageRetry('delete run objects', () => store.delete(batch));
  }
  return { deleted: keys.length, published: false };
}

/**
 * `cleanupRun` (CPU): the same as an activity. The pipeline no longer schedules it; it stays
 * registered so a cleanup task scheduled before an upgrade still finds a worker.
 */
export function createCleanupRun(deps: { store: ObjectStore }) {
  return async function cleanupRun(input: CleanupRunInput): Promise<CleanupRunOutput> {
    const out = await removeUnpublishedRunObjects(deps.store, input.runId);
    if (!out.published) Context.current().log.info('removed unpublished run objects', { runId: input.runId, deleted: out.deleted });
    return out;
  };
}
