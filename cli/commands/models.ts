/**
 * `cc2d models list|promote|rollback`: the champion of each site (`sites/<site>/champion.json`).
 * Runs become champions through the promotion gate at the end of the pipeline; `promote` makes a
 * published run the champion by hand (bypassing the gate) and `rollback` restores the previous one.
 */
import type { Command } from 'commander';
import type { ChampionEntry, RolledBackEntry } from '../../contracts/documents';
import { SiteSchema } from '../../infra/config/run-config';
import { loadStackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { championListing, promoteManually, readChampion, rollbackChampion } from '../../infra/models/champion';
import { readSite } from '../../infra/sites/registry';
import { createS3Store, type S3ObjectStore } from '../../infra/storage/s3-store';
import { formatMre } from '../format';

async function withStore<T>(body: (store: S3ObjectStore) => Promise<T>): Promise<T> {
  const store = createS3Store(loadStackSettings());
  try {
    return await body(store);
  } finally {
    store.destroy();
  }
}

function describeEntry(e: ChampionEntry | RolledBackEntry): string {
  const mre = e.mre !== undefined ? `MRE ${formatMre(e.mre, e.unit ?? 'mm')}` : 'no metrics';
  const until = 'until' in e ? ` until ${e.until}` : '';
  return `${e.runId.padEnd(44)} ${mre.padEnd(16)} since ${e.since}${until}  ${e.by}: ${e.reason}`;
}

function checkSite(site: string): string {
  const parsed = SiteSchema.safeParse(site);
  if (!parsed.success) throw new UserError(`--site: "${site}" ${parsed.error.issues[0]?.message ?? 'is not a site name'}`);
  return parsed.data;
}

export function register(program: Command): void {
  const models = program.command('models').description("Each site's champion model (used by predict by default)");

  models
    .command('list')
    .description("The site's champion, the earlier ones a rollback would restore, and the ones rolled back (newest first)")
    .requiredOption('--site <site>', 'site name')
    .option('--json', 'one JSON object: {site, champion, revision, history, rolledBack} (null champion when none)')
    .action(async (opts: { site: string; json?: boolean }) => {
      const site = checkSite(opts.site);
      const [doc, registered] = await withStore((store) => Promise.all([readChampion(store, site), readSite(store, site).then((r) => r !== undefined)]));
      if (opts.json) {
        console.log(JSON.stringify({ site, ...championListing(doc) }));
        return;
      }
      if (!doc) {
        // A typo of a site name would otherwise look like a site without a champion yet.
        console.log(`site ${site} has no champion${registered ? '' : ' (nor is it a registered site: cc2d site list shows them)'}`);
        return;
      }
      const listing = championListing(doc);
      console.log(`champion    ${describeEntry(doc.champion)}`);
      for (const e of listing.history) console.log(`earlier     ${describeEntry(e)}`);
      for (const e of listing.rolledBack) console.log(`rolled back ${describeEntry(e)}`);
    });

  models
    .command('promote <runId>')
    .description("Make a finished (published) run its site's champion, bypassing the gate")
    .option('--json', 'the champion document')
    .action(async (runId: string, opts: { json?: boolean }) => {
      const doc = await withStore((store) => promoteManually(store, runId));
      console.log(opts.json ? JSON.stringify(doc) : `champion of site ${doc.site}: ${doc.champion.runId}`);
    });

  models
    .command('rollback')
    .description('Restore the previous champion of a site')
    .requiredOption('--site <site>', 'site name')
    .option('--json', '{from, to}')
    .action(async (opts: { site: string; json?: boolean }) => {
      const site = checkSite(opts.site);
      const { from, to } = await withStore((store) => rollbackChampion(store, site));
      console.log(opts.json ? JSON.stringify({ site, from, to }) : `champion of site ${site}: ${to.runId} (was ${from})`);
    });
}
