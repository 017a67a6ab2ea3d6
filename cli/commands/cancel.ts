/**
 * `cc2d cancel <id>`: cancel a run. Its checkpoints and finished stages' results are kept, so
 * `cc2d resume <id>` continues it; `--purge` deletes the run's unpublished objects once it has
 * closed (also for a run that is already cancelled or failed). Published artifacts and the
 * dataset version are never deleted.
 */
import type { Command } from 'commander';
import { removeUnpublishedRunObjects } from '../../activities/cleanup-run';
import { loadStackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { createS3Store } from '../../infra/storage/s3-store';
import { withClient } from '../../infra/temporal/connect';
import { describeRun } from '../pipeline-client';

export function register(program: Command): void {
  program
    .command('cancel <runId>')
    .description('Cancel a run, keeping its checkpoints for `cc2d resume`; --purge deletes its unpublished objects')
    .option('--purge', "delete the run's unpublished objects (checkpoints, stage results) after it closed")
    .option('--no-wait', 'do not wait for the run to close (not with --purge)')
    .action(async (runId: string, opts: { wait: boolean; purge?: boolean }) => {
      if (opts.purge && !opts.wait) throw new UserError('--purge waits for the run to close; drop --no-wait');
      const settings = loadStackSettings();
      await withClient(settings, async (client) => {
        const handle = client.workflow.getHandle(runId);
        const before = (await describeRun(client, runId)).status.name;
        if (before === 'RUNNING') await handle.cancel();
        // A run that had already closed is not cancelled now: say so (--purge still cleans it up).
        else if (!opts.purge) {
          console.log(`${runId}: already ${before.toLowerCase()}, nothing to cancel${before === 'COMPLETED' ? '' : ` (checkpoints kept: npx cc2d resume ${runId}; --purge deletes them)`}`);
          return;
        }
        if (!opts.wait) {
          console.log(`${runId}: cancellation requested`);
          return;
        }
        // The workflow closes once its running activity has stopped (at its next heartbeat).
        await handle.result().catch(() => undefined);
        const status = (await handle.describe()).status.name;
        if (!opts.purge) {
          console.log(`${runId}: ${status}${status === 'CANCELLED' ? ` (checkpoints kept: npx cc2d resume ${runId})` : ''}`);
          return;
        }
        const store = createS3Store(settings);
        try {
          const out = await removeUnpublishedRunObjects(store, runId);
          console.log(`${runId}: ${status}; ${out.published ? 'published, nothing deleted' : `purged ${out.deleted} unpublished objects`}`);
        } finally {
          store.destroy();
        }
      });
    });
}
