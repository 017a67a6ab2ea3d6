/**
 * `cc2d site add|list|show|remove|suggest-template`: onboard an image folder with ONE labelled image as a site.
 *
 * `site add NAME --dir DIR [--template ID] [--spacing MM] [--size N]... [--json]` validates the whole
 * folder first (one report naming every file and problem, exit 2, nothing published), publishes a
 * content-addressed dataset version (an unchanged folder reuses it) and records the site at
 * `sites/<NAME>/site.json`, so that `cc2d run --site NAME` and `cc2d schedule create --site NAME`
 * need no other flag. With --json the last stdout line is one JSON object (site, datasetVersion,
 * images, labelled, landmarks, spacing, …). Progress goes to stderr. Without --template (nothing
 * labelled yet) the folder's images alone are published and the site is recorded without a
 * template: `site suggest-template NAME` says which image to label, runs refuse the site until it
 * is added again with --template.
 *
 * `site suggest-template NAME [--top N] [--json] [--run RUN_ID] [--profile P]` ranks the site's
 * images by how good a template each would be (cli/suggest-template-client.ts) and prints the
 * top N (with --json, one JSON object last).
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { SiteRecord } from '../../contracts/documents';
import { registerSiteHint, SITE_NAME_PATTERN, SITE_NAME_RULE } from '../../infra/config/run-config';
import { loadStackSettings, type StackSettings } from '../../infra/config/stack';
import { ingestSite, type SiteIngestResult } from '../../infra/dataset/site/ingest-site';
import { UserError } from '../../infra/errors';
import { listSites, readSite, removeSite, SITE_RECORD_FORMAT, writeSite, type SiteStore } from '../../infra/sites/registry';
import type { Client } from '@temporalio/client';
import { scheduleIdOf } from '../../infra/config/names';
import { withClient } from '../../infra/temporal/connect';
import { findSiteSchedule } from '../../infra/temporal/site-schedule';
import { createS3Store, type S3ObjectStore } from '../../infra/storage/s3-store';
import { shellArg } from '../format';
import { positiveInt, suggestTemplate, type SuggestFlags } from '../suggest-template-client';
import { collectSize, DEFAULT_INGEST_SIZES, positiveNumber, progressPrinter } from './ingest';

interface AddFlags {
  dir: string;
  template?: string;
  spacing?: number;
  size?: number[];
  json?: boolean;
}

function checkSiteName(name: string): void {
  if (!SITE_NAME_PATTERN.test(name)) throw new UserError(`site name ${JSON.stringify(name)}: ${SITE_NAME_RULE}`);
}

async function withStore<T>(settings: StackSettings, fn: (store: S3ObjectStore) => Promise<T>): Promise<T> {
  const store = createS3Store(settings);
  try {
    return await fn(store);
  } finally {
    store.destroy();
  }
}

/**
 * The run-config layer a registered site contributes (below the config file, env and flags):
 * its folder, layout, template and `--spacing`. Empty for no site or an unregistered one.
 */
export async function registeredSiteDefaults(settings: StackSettings, site: string | undefined): Promise<Record<string, unknown>> {
  if (site === undefined || !SITE_NAME_PATTERN.test(site)) return {};
  const stored = await withStore(settings, (store) => readSite(store, site));
  if (stored === undefined) return {};
  const { record } = stored;
  if (record.templateId === null) {
    throw new UserError(`site ${site} has no template yet: label one image (cc2d site suggest-template ${site} says which), then cc2d site add ${site} --dir ${shellArg(record.dir)} --template ID`);
  }
  return {
    site,
    dataset: { dir: record.dir, layout: 'site', ...(record.spacingMm !== null ? { pixelSpacingMm: record.spacingMm } : {}) },
    templateId: record.templateId,
  };
}

/** `cc2d site remove`: the site's record goes, refused while the site has a schedule (it would go on starting runs of a site with no folder on record). */
export async function retireSite(client: Client, store: SiteStore, name: string): Promise<SiteRecord> {
  if ((await findSiteSchedule(client, name)) !== undefined) throw new UserError(`site ${name} has a schedule (${scheduleIdOf(name)}): delete it first (cc2d schedule delete ${name})`);
  return removeSite(store, name);
}

function describeRecord(r: SiteRecord): string {
  const spacing = r.spacing === 'unknown' ? 'spacing unknown (metrics in pixels)' : `spacing ${r.spacing}${r.spacingMm !== null ? ` ${r.spacingMm} mm` : ''}`;
  return [
    `site ${r.site}: ${r.images} images, ${r.labelled} labelled (${r.templateId !== null ? `template ${r.templateId}` : `no template yet: cc2d site suggest-template ${r.site}`}), ${r.landmarkNames.length} landmarks, ${spacing}`,
    `  folder ${r.dir}`,
    `  dataset version ${r.datasetVersion} (updated ${r.updatedAt})`,
    // A site registered before its template is labelled has no landmark set yet.
    r.landmarkNames.length > 0 ? `  landmarks: ${r.landmarkNames.join(', ')}` : '  landmarks: none yet (they come from the template\'s landmark file)',
  ].join('\n');
}

function jsonLine(record: SiteRecord, result?: SiteIngestResult): Record<string, unknown> {
  return {
    site: record.site,
    datasetVersion: record.datasetVersion,
    images: record.images,
    labelled: record.labelled,
    landmarks: record.landmarkNames.length,
    landmarkNames: record.landmarkNames,
    spacing: record.spacing,
    spacingMm: record.spacingMm,
    templateId: record.templateId,
    dir: record.dir,
    updatedAt: record.updatedAt,
    ...(result !== undefined
      ? { reused: result.reused, evaluation: result.counts.eval, pixelSpacingMm: result.pixelSpacingMm, sizes: result.sizes, warnings: result.warnings }
      : {}),
  };
}

export function register(program: Command): void {
  const site = program.command('site').description('Onboard an image folder with one labelled template as a site; list, show and remove sites');

  site
    .command('add <name>')
    .description('Validate a site folder, publish its dataset version and record the site')
    .requiredOption('--dir <dir>', 'the site folder: images/ (PNG, JPEG, BMP, TIFF, DICOM), landmarks/ (CSV, .mrk.json, ISBI .txt), optional spacing.csv')
    .option('--template <id>', 'the labelled image whose landmarks define the set (omit before labelling: see site suggest-template)')
    .option('--spacing <mm>', 'pixel spacing in mm for images without a DICOM tag or spacing.csv entry (default: unknown)', positiveNumber)
    .option('--size <n>', `working size S (repeatable; default: ${DEFAULT_INGEST_SIZES.join(', ')})`, collectSize)
    .option('--json', 'print the result as one JSON object on the last line')
    .action(async (name: string, flags: AddFlags) => {
      checkSiteName(name);
      const dir = path.resolve(flags.dir);
      const settings = loadStackSettings();
      await withStore(settings, async (store) => {
        if (settings.s3.local) await store.ensureBucket();
        // Read before ingesting: the record is replaced only if nobody changed it meanwhile.
        const previous = await readSite(store, name);
        const result = await ingestSite(store, {
          dir,
          ...(flags.template !== undefined ? { templateId: flags.template } : {}),
          sizes: flags.size ?? DEFAULT_INGEST_SIZES,
          site: name,
          ...(flags.spacing !== undefined ? { spacingMm: flags.spacing } : {}),
          onProgress: progressPrinter(),
        });
        const record: SiteRecord = {
          format: SITE_RECORD_FORMAT,
          site: name,
          dir,
          templateId: result.templateId ?? null,
          landmarkNames: result.landmarkNames,
          spacingMm: flags.spacing ?? null,
          spacing: result.spacing,
          datasetVersion: result.datasetVersion,
          images: result.counts.images,
          labelled: result.counts.labelled,
          updatedAt: new Date().toISOString(),
        };
        await writeSite(store, record, previous);
        console.log(describeRecord(record));
        console.log(`  ${result.reused ? 'unchanged folder: dataset version reused' : 'dataset version published'}; ${result.counts.eval} evaluation images`);
        for (const w of result.warnings.slice(0, 20)) console.log(`  warning: ${w}`);
        if (flags.json) console.log(JSON.stringify(jsonLine(record, result)));
      });
    });

  site
    .command('list')
    .description('List the registered sites')
    .option('--json', 'a JSON array')
    .action(async (opts: { json?: boolean }) => {
      const records = await withStore(loadStackSettings(), listSites);
      if (opts.json) console.log(JSON.stringify(records.map((r) => jsonLine(r))));
      else if (records.length === 0) console.log('no sites');
      else for (const r of records) console.log(`${r.site.padEnd(24)} ${String(r.images).padStart(6)} images ${String(r.labelled).padStart(5)} labelled  K=${r.landmarkNames.length}  ${r.spacing.padEnd(7)} ${r.datasetVersion.slice(0, 12)}  ${r.dir}`);
    });

  site
    .command('show <name>')
    .description("Show a site's record")
    .option('--json', 'one JSON object')
    .action(async (name: string, opts: { json?: boolean }) => {
      checkSiteName(name);
      const stored = await withStore(loadStackSettings(), (store) => readSite(store, name));
      if (stored === undefined) throw new UserError(`site ${name} is not registered (${registerSiteHint(name)})`);
      console.log(opts.json ? JSON.stringify(jsonLine(stored.record)) : describeRecord(stored.record));
    });

  site
    .command('remove <name>')
    .description("Retire a site: remove its record (its dataset versions, runs, champion and predictions stay); refused while it has a schedule")
    .option('--json', 'one JSON object: the removed record')
    .action(async (name: string, opts: { json?: boolean }) => {
      checkSiteName(name);
      const settings = loadStackSettings();
      const record = await withClient(settings, (client) => withStore(settings, (store) => retireSite(client, store, name)));
      console.log(opts.json ? JSON.stringify(jsonLine(record)) : `removed site ${name} (its record; dataset version ${record.datasetVersion}, runs, champion and predictions are kept)`);
    });

  site
    .command('suggest-template <name>')
    .description("Rank a site's images by how good a template each would be, from self-supervised embeddings alone (no labels)")
    .option('--top <n>', 'how many to list', '5')
    .option('--json', 'print the result as one JSON object on the last line')
    .option('--run <runId>', "use this finished run's SSL weights instead of training them")
    .option('--profile <name>', 'profile whose SSL stage is trained (or reused from an earlier run of the site): smoke, quick, cpu, paper (default: the run default)')
    .option('--seed <n>', 'SSL training seed (default: the run default)')
    .option('--workers <mode>', 'auto: host workers for queues nobody polls | local: always | none', 'auto')
    .option('--gpu-queue <name>', 'task queue of the SSL training activity (default: the GPU queue)')
    .option('--cpu-queue <name>', 'task queue of the ranking activity (default: the CPU queue)')
    .option('--verbose', 'show SDK and activity logs')
    .action(async (name: string, flags: SuggestFlags) => {
      checkSiteName(name);
      if (!['auto', 'local', 'none'].includes(flags.workers)) throw new UserError(`--workers: expected auto, local or none, got "${flags.workers}"`);
      const top = positiveInt(flags.top, '--top');
      const settings = loadStackSettings();
      const result = await withStore(settings, (store) => suggestTemplate(settings, store, name, flags));
      const shown = result.top.slice(0, top);
      const best = shown[0]!;
      console.log(`site ${name}: label image ${best.id} (best of ${result.images} by ${result.scoreName} score; SSL weights ${result.sslFrom === 'run' ? `of run ${result.sslSource}` : result.sslFrom === 'cache' ? `reused from run ${result.sslSource}` : 'trained now'})`);
      for (const e of shown) console.log(`  ${String(e.rank).padStart(3)}. ${e.id.padEnd(24)} ${Object.entries(e.scores).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}`);
      console.log(`  ranking: ${result.ranking.key}`);
      console.log(`  next: label ${best.id}, then cc2d site add ${name} --dir ${shellArg(result.siteDir)} --template ${shellArg(best.id)}`);
      if (flags.json) {
        console.log(JSON.stringify({
          site: name, datasetVersion: result.datasetVersion, suggested: best.id, scoreName: result.scoreName, images: result.images,
          top: shown, rankingKey: result.ranking.key, sslFrom: result.sslFrom, sslSource: result.sslSource, sslWeights: result.sslWeights.key, durationMs: result.durationMs,
        }));
      }
    });
}
