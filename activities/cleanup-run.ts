/**
 * `cleanupRun` (CPU): after a cancellation or failure, removes every object of the run that was
 * not published. A published run (its lineage manifest exists) is never touched. Datasets are
 * shared, content-addressed and published by ingestion, so they are not the run's to delete.
 */
import { Context } from '@temporalio/activity';
import { isPublished } from '../infra/storage/manifest';
import type { ObjectStore } from '../infra/storage/object-store';
import { withStorageRetry } from './failures';
import { runPrefix } from '../infra/storage/keys';
import type { CleanupRunInput, CleanupRunOutput } from '../contracts/types';

export function createCleanupRun(deps: { store: ObjectStore }) {
  return async function cleanupRun(input: CleanupRunInput): Promise<CleanupRunOutput> {
    const prefix = runPrefix(input.runId);
    if (await withStorageRetry('isPublished', () => isPublished(deps.store, prefix))) return { deleted: 0, published: true };
    const keys = (await withStorageRetry('list run', () => deps.store.list(`${prefix}/`))).map((o) => o.key);
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500);
      await withStorageRetry('delete run objects', () => deps.store.delete(batch));
    }
    Context.current().log.info('removed unpublished run objects', { runId: input.runId, deleted: keys.length });
    return { deleted: keys.length, published: false };
  };
}
