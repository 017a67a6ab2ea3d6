/** `cc2d cancel <id>`: cancel a run; the workflow removes its unpublished objects before it closes. */
import type { Command } from 'commander';
import { loadStackSettings } from '../../infra/config/stack';
import { withClient } from '../../infra/temporal/connect';

export function register(program: Command): void {
  program
    .command('cancel <runId>')
    .description('Cancel a run; its unpublished objects are removed, published artifacts are kept')
    .option('--no-wait', 'do not wait for the cleanup to finish')
    .action(async (runId: string, opts: { wait: boolean }) => {
      await withClient(loadStackSettings(), async (client) => {
        const handle = client.workflow.getHandle(runId);
        await handle.cancel();
        if (opts.wait) {
          try {
            await handle.result();
          } catch {
            // expected: cancelled
          }
          const desc = await handle.describe();
          console.log(`${runId}: ${desc.status.name}`);
        } else {
          console.log(`${runId}: cancellation requested`);
        }
      });
    });
}
