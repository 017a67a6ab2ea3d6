/**
 * `cc2d predict [images or folders...] --run ID --out DIR`: landmarks of new images with a
 * completed run's model (cli/predict-client.ts). Bad input (an unreadable image, an empty folder,
 * a dataset version of another landmark set) exits 2 naming it, before anything is written.
 */
import type { Command } from 'commander';
import { loadStackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { createS3Store } from '../../infra/storage/s3-store';
import { withClient } from '../../infra/temporal/connect';
import type { WorkersMode } from '../local-workers';
import { counted } from '../format';
import { taskQueueFlags } from '../options';
import { parseFormats, runPredict } from '../predict-client';

interface PredictFlags {
  run?: string;
  site?: string;
  datasetVersion?: string;
  out?: string;
  format: string;
  flagBelow?: string;
  spacing?: string;
  spacingCsv?: string;
  shardSize?: string;
  workers: WorkersMode;
  gpuQueue?: string;
  cpuQueue?: string;
  json?: boolean;
  verbose?: boolean;
}

function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UserError(`${flag}: "${value}" is not a number`);
  return n;
}

export function register(program: Command): void {
  program
    .command('predict [paths...]')
    .description("Predict landmarks of images (files, folders, or --dataset-version) with a run's model; exports CSV, JSON and 3D Slicer markups")
    .option('--run <id>', 'the model: a completed run')
    .option('--site <name>', "the model: the site's champion (when --run is not given)")
    .option('--dataset-version <id>', 'predict the images of a published dataset version instead of paths')
    .option('--out <dir>', 'write the exports as this folder: new, empty, or holding an earlier export, which is replaced as a whole (never a mix)')
    .option('--format <list>', 'exports to write: csv,json,mrk', 'csv,json,mrk')
    .option('--flag-below <x>', "flag landmarks whose confidence (0-1) is below this (default: the model run's config predict.flagBelow, 0.5 unless set)")
    .option('--spacing <mm>', 'pixel spacing of images with no --spacing-csv entry and no DICOM spacing, for the mm columns')
    .option('--spacing-csv <file>', 'per-image pixel spacing, a CSV `id,mm` (as a site\'s spacing.csv); before the DICOM header and --spacing')
    .option('--shard-size <n>', 'images per GPU activity (default 64)')
    .option('--workers <mode>', 'auto: host workers for queues nobody polls | local: always | none', 'auto')
    .option('--gpu-queue <name>', 'task queue of the prediction activities (default: the GPU queue; a site whose runs use dedicated queues names them here)')
    .option('--cpu-queue <name>', 'task queue of the publishing activity (default: the CPU queue)')
    .option('--json', 'print the result as one JSON line')
    .option('--verbose', 'show SDK and activity logs')
    .action(async (paths: string[], flags: PredictFlags) => {
      if (!['auto', 'local', 'none'].includes(flags.workers)) throw new UserError(`--workers: expected auto, local or none, got "${flags.workers}"`);
      const formats = parseFormats(flags.format);
      const flagBelow = num('--flag-below', flags.flagBelow);
      const spacingMm = num('--spacing', flags.spacing);
      const imagesPerShard = num('--shard-size', flags.shardSize);
      const settings = loadStackSettings();
      const store = createS3Store(settings);
      try {
        const outcome = await withClient(settings, (client) => runPredict(client, settings, store, {
          paths, formats, workers: flags.workers, progress: !flags.json || process.stderr.isTTY === true,
          ...(flags.run !== undefined ? { runId: flags.run } : {}),
          ...(flags.site !== undefined ? { site: flags.site } : {}),
          ...(flags.datasetVersion !== undefined ? { datasetVersion: flags.datasetVersion } : {}),
          ...(flags.out !== undefined ? { out: flags.out } : {}),
          ...(flagBelow !== undefined ? { flagBelow } : {}),
          ...(spacingMm !== undefined ? { spacingMm } : {}),
          ...(flags.spacingCsv !== undefined ? { spacingCsv: flags.spacingCsv } : {}),
          ...(imagesPerShard !== undefined ? { imagesPerShard } : {}),
          ...(taskQueueFlags(flags) ? { taskQueues: taskQueueFlags(flags) } : {}),
          ...(flags.verbose ? { verbose: true } : {}),
        }));
        const r = outcome.result;
        if (flags.json) {
          console.log(JSON.stringify({ ...r, flagBelow: outcome.flagBelow, out: flags.out ?? null, files: outcome.written }));
          return;
        }
        console.log([
          `${counted(r.images, 'image')}, ${counted(r.landmarks, 'landmark')}, ${r.flagged} flagged low-confidence (below ${outcome.flagBelow})${r.alreadyPublished ? ' (an identical request was already published)' : ''}`,
          `  stored  ${r.prefix}/`,
          ...(flags.out !== undefined ? [`  wrote   ${counted(outcome.written.length, 'file')} to ${flags.out}`] : []),
        ].join('\n'));
      } finally {
        store.destroy();
      }
    });
}
