/**
 * `cc2d ingest [--dataset DIR] [--size N]... [--spacing MM] [--site NAME] [--concurrency N] [--json]`
 *
 * Validates an ISBI 2015 layout folder and publishes it as a content-addressed dataset version
 * (datasets/<version>/ in the configured S3 bucket), calling the library directly: no Temporal
 * needed. Re-running on unchanged input prints the same version and writes nothing.
 *
 * Defaults: --dataset = $ISBI_DIR or ../shared/datasets/isbi2015_ceph (relative to the project);
 * --size = every profile's input size (64 smoke, 192 cpu, 384 paper), so one version serves all
 * profiles. Note that the version id depends on the sizes: `cc2d run` ingests with its profile's
 * size only, which is a different (equally valid) version.
 *
 * Output: a human summary; with --json the LAST stdout line is one JSON object with
 * `datasetVersion`. Progress goes to stderr. Exit code 2 for a rejected dataset (every problem
 * listed), 1 for other failures.
 */
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { loadStackSettings } from '../../infra/config/stack';
import { ingestDataset, type IngestResult } from '../../infra/dataset/ingest';
import type { IngestProgress } from '../../infra/dataset/types';
import { isbiDir } from '../../infra/stack/checks';
import { createS3Store } from '../../infra/storage/s3-store';
import { PROFILE_INPUT_SIZES } from '../../ml/profiles';

export const DEFAULT_INGEST_SIZES: readonly number[] = PROFILE_INPUT_SIZES;

interface IngestFlags {
  dataset?: string;
  size?: number[];
  spacing?: number;
  site?: string;
  concurrency?: number;
  json?: boolean;
}

function intArg(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

export function collectSize(value: string, previous: number[] | undefined): number[] {
  return [...(previous ?? []), intArg('--size')(value)];
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('--spacing must be a positive number (mm per pixel)');
  return n;
}

const PHASE_LABEL: Record<IngestProgress['phase'], string> = {
  scan: 'scanning',
  hash: 'hashing',
  process: 'decoding + resizing',
  publish: 'uploading',
  done: 'done',
};

export function progressPrinter(): (p: IngestProgress) => void {
  const tty = process.stderr.isTTY === true;
  let lastKey = '';
  return (p) => {
    const pct = p.total > 0 ? Math.floor((100 * p.done) / p.total) : 100;
    const key = tty ? `${p.phase}:${p.done}` : `${p.phase}:${Math.floor(pct / 25)}`;
    if (key === lastKey) return;
    lastKey = key;
    const line = `${PHASE_LABEL[p.phase]} ${p.phase === 'publish' ? `${p.total} objects` : `${p.done}/${p.total}`}`;
    if (tty) process.stderr.write(`\r\x1b[2K${line}${p.phase === 'done' ? '\n' : ''}`);
    else process.stderr.write(`${line}\n`);
  };
}

export function summarise(r: IngestResult): string {
  const c = r.counts;
  return [
    `dataset version ${r.datasetVersion} (${r.reused ? 'already published, reused' : 'published'})`,
    `  ${c.images} images: train ${c.train}, test1 ${c.test1}, test2 ${c.test2}${c.test2 === 0 ? ' (no Test2Data)' : ''}`,
    `  sizes ${r.sizes.join(', ')}; ${r.pixelSpacingMm} mm/px; s3 prefix ${r.prefix}/; ${(r.durationMs / 1000).toFixed(1)} s`,
    ...r.warnings.slice(0, 20).map((w) => `  warning: ${w}`),
    ...(r.warnings.length > 20 ? [`  … and ${r.warnings.length - 20} more warnings`] : []),
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('ingest')
    .description('Validate an ISBI 2015 dataset folder and publish it as a content-addressed dataset version')
    .option('--dataset <dir>', 'dataset folder in the official ISBI layout (default: $ISBI_DIR or ../shared/datasets/isbi2015_ceph)')
    .option('--size <n>', `working size S (repeatable; default: ${DEFAULT_INGEST_SIZES.join(', ')})`, collectSize)
    .option('--spacing <mm>', 'original pixel spacing in mm (default 0.1)', positiveNumber)
    .option('--site <name>', 'site name (validated; not part of the content-addressed version)')
    .option('--concurrency <n>', 'images decoded at once (default 2)', intArg('--concurrency'))
    .option('--json', 'print the result as one JSON object on the last line')
    .action(async (flags: IngestFlags) => {
      const datasetDir = flags.dataset !== undefined ? path.resolve(flags.dataset) : isbiDir();
      const settings = loadStackSettings();
      const store = createS3Store(settings);
      try {
        if (settings.s3.local) await store.ensureBucket();
        const result = await ingestDataset(store, {
          datasetDir,
          sizes: flags.size ?? DEFAULT_INGEST_SIZES,
          ...(flags.spacing !== undefined ? { pixelSpacingMm: flags.spacing } : {}),
          ...(flags.site !== undefined ? { site: flags.site } : {}),
          ...(flags.concurrency !== undefined ? { concurrency: flags.concurrency } : {}),
          onProgress: progressPrinter(),
        });
        console.log(summarise(result));
        if (flags.json) {
          console.log(
            JSON.stringify({
              datasetVersion: result.datasetVersion,
              reused: result.reused,
              prefix: result.prefix,
              counts: result.counts,
              sizes: result.sizes,
              pixelSpacingMm: result.pixelSpacingMm,
              datasetDir,
              warnings: result.warnings,
              objectsWritten: result.objectsWritten,
              durationMs: result.durationMs,
            }),
          );
        }
      } finally {
        store.destroy();
      }
    });
}
