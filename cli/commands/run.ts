/**
 * `cc2d run`: start a pipeline run and follow it. The config is validated completely (schema,
 * profile, template vs. the dataset's splits) BEFORE a workflow starts; an invalid one exits 2
 * naming the field. `--site NAME` of a registered site fills the folder, template and spacing
 * from its record (any flag, env or config file value still wins).
 */
import type { Command } from 'commander';
import { stageBackboneWeights } from '../../infra/config/backbone-weights';
import { loadRunConfig, resolveRunProfile, type RunConfig, type RunConfigFlags } from '../../infra/config/run-config';
import { loadStackSettings, type StackSettings } from '../../infra/config/stack';
import { createS3Store } from '../../infra/storage/s3-store';
import { UserError } from '../../infra/errors';
import { withClient } from '../../infra/temporal/connect';
import { collect } from '../options';
import { preflight } from '../pipeline-client';
import { runAndFollow, type FollowFlags } from '../run-follow';
import { registeredSiteDefaults } from './site';

interface RunFlags extends RunConfigFlags, FollowFlags {
  runId?: string;
  backboneWeights?: string;
}

export function register(program: Command): void {
  program
    .command('run')
    .description('Validate a run config, start the CC2D pipeline and follow it (hosts local workers when none poll)')
    .option('-c, --config <file>', 'run config (YAML or JSON)')
    .option('--profile <name>', 'smoke | quick | cpu | paper')
    .option('--template <id>', 'template image id (a training image)')
    .option('--dataset <dir>', 'dataset folder (ISBI 2015 layout or a site folder); default: the registered site\'s folder; with no site named, $ISBI_DIR or ../shared/datasets/isbi2015_ceph (an unregistered site needs --dataset or --dataset-version)')
    .option('--dataset-version <id>', 'an already published dataset version instead of a folder')
    .option('--site <name>', 'site name (search attribute, schedules); a registered site (cc2d site add) supplies its folder, template and spacing')
    .option('--spacing <mm>', 'pixel spacing in mm (dataset.pixelSpacingMm)')
    .option('--seed <n>', 'run seed (default 2022)')
    .option('--shards <n>', 'pseudo-label shards (parallel activities)')
    .option('--checkpoint-every <n>', 'checkpoint interval in training steps')
    .option('--no-cache', 'recompute every stage instead of reusing unchanged ones from earlier runs')
    .option('--min-mre <value>', "the site's bar for a first champion: promoted only with an MRE at most this (run's unit)")
    .option('--set <field=value>', 'override any config field, e.g. --set overrides.ssl.steps=50 (repeatable)', collect, [])
    .option('--backbone-weights <file>', 'initialise both encoders from VGG19 weights in tfjs format (a weights manifest JSON and its shards); stored in S3 with the run')
    .option('--run-id <id>', 'workflow id (default cc2d-<site>-<time>-<rand>)')
    .option('--detach', 'start and print the run id without waiting')
    .option('--json', 'print the final result (metrics, report key) as one JSON line, last')
    .option('--workers <mode>', 'auto: host workers for queues nobody polls | local: always | none', 'auto')
    .option('--verbose', 'show SDK and activity logs')
    .action(async (flags: RunFlags) => {
      if (!['auto', 'local', 'none'].includes(flags.workers)) throw new UserError(`--workers: expected auto, local or none, got "${flags.workers}"`);
      const settings = loadStackSettings();
      let config = await loadRunConfig(flags, process.env, (site) => registeredSiteDefaults(settings, site));
      if (flags.backboneWeights !== undefined) config = await withBackboneWeights(config, flags.backboneWeights, settings);
      const input = await preflight(config, settings);
      await withClient(settings, (client) => runAndFollow(client, settings, input, flags));
    });
}

/** Checks the weights file against the run's profile (exit 2 naming the file and the layer) and stores it in S3 once. */
export async function withBackboneWeights(config: RunConfig, file: string, settings: StackSettings): Promise<RunConfig> {
  const store = createS3Store(settings);
  try {
    return { ...config, backboneWeights: await stageBackboneWeights(store, file, resolveRunProfile(config)) };
  } finally {
    store.destroy();
  }
}
