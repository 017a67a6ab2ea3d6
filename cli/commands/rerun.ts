/** `cc2d rerun <id>`: a new run with the same config, seed, resolved profile and dataset version as <id>. */
import type { Command } from 'commander';
import { parseRunConfig } from '../../infra/config/run-config';
import { loadStackSettings } from '../../infra/config/stack';
import { withClient } from '../../infra/temporal/connect';
import { describeRun, preflight, runInput, searchAttributesOf } from '../pipeline-client';
import { runAndFollow, type FollowFlags } from '../run-follow';

export function register(program: Command): void {
  program
    .command('rerun <runId>')
    .description('Start a new run with the same config, seed and dataset version as <runId>')
    .option('--run-id <id>', 'id of the new run')
    .option('--no-cache', 'recompute every stage instead of reusing them from earlier runs (e.g. from <runId>)')
    .option('--detach', 'start and print the run id without waiting')
    .option('--json', 'print the final result as one JSON line, last')
    .option('--workers <mode>', 'auto | local | none', 'auto')
    .option('--verbose', 'show SDK and activity logs')
    .action(async (sourceId: string, flags: FollowFlags & { runId?: string; cache?: boolean }) => {
      const settings = loadStackSettings();
      await withClient(settings, async (client) => {
        const desc = await describeRun(client, sourceId);
        const original = await runInput(client, sourceId);
        const version = searchAttributesOf(desc as never).datasetVersion as string | undefined;
        const { dir: _dir, version: _v, ...datasetParams } = original.config.dataset;
        const config = parseRunConfig({
          ...original.config, dataset: { ...datasetParams, ...(version ? { version } : { dir: original.config.dataset.dir }) },
          ...(flags.cache === false ? { cache: false } : {}),
        });
        const input = await preflight(config, settings);
        process.stderr.write(`[cc2d] rerun of ${sourceId}: seed ${config.seed}, dataset ${version ?? config.dataset.dir}, config hash ${input.configHash === original.configHash ? 'unchanged' : 'CHANGED (profile definitions moved on)'}\n`);
        // Keep the original's resolved profile, so a rerun is the same run even if PROFILES changed since.
        await runAndFollow(client, settings, { ...input, profile: original.profile, configHash: original.configHash }, flags);
      });
    });
}
