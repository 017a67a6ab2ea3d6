/**
 * `cc2d runs list`: runs from Temporal visibility (typed search attributes, and the memo for an
 * MRE in pixels and the promotion gate's reason), newest first or sorted by MRE (mm before px).
 * Each JSON row has "runId". The champion mark comes from the sites' champion documents, not
 * from the gate's outcome: a champion promoted or restored by hand is marked too.
 */
import type { Command } from 'commander';
import { SEARCH_ATTRIBUTES as SA } from '../../infra/config/names';
import { loadStackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { markChampions } from '../../infra/models/champion';
import { createS3Store } from '../../infra/storage/s3-store';
import { withClient } from '../../infra/temporal/connect';
import { headlineOf, latestExecutions, promotionReasonOf } from '../../infra/dashboard/sources';
import { PIPELINE_WORKFLOW_TYPE } from '../../workflows/definitions';
import type { PipelineProgress } from '../../contracts/types';
import { formatMre } from '../format';

export interface RunRow {
  runId: string;
  site: string | null;
  status: string;
  stage: string | null;
  profile: string | null;
  datasetVersion: string | null;
  /** Headline MRE in `mreUnit`; null for runs without metrics (no labelled evaluation image) or not finished. */
  mreMm: number | null;
  mreUnit: 'mm' | 'px' | null;
  progress: number | null;
  /** The promotion gate's outcome (promoted | kept | skipped) and why; null before the gate ran. */
  promotion: string | null;
  promotionReason: string | null;
  /** The run is its site's champion now (`models list`); null when the champion could not be read. */
  champion: boolean | null;
  startTime: string;
  closeTime: string | null;
}

function quote(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The values of the run status search attribute (PipelineProgress['status']). */
const RUN_STATUSES: readonly string[] = ['running', 'completed', 'failed', 'cancelled'] satisfies ReadonlyArray<PipelineProgress['status']>;

/** The visibility query of pipeline runs, of one site when given (the status is filtered after listing: see listRuns). */
export function listQuery(opts: { site?: string }): string {
  const clauses = [`WorkflowType = ${quote(PIPELINE_WORKFLOW_TYPE)}`];
  if (opts.site) clauses.push(`${SA.site.name} = ${quote(opts.site)}`);
  return clauses.join(' AND ');
}

export async function listRuns(opts: { site?: string; status?: string; sort?: string; limit?: number }): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  await withClient(loadStackSettings(), async (client) => {
    // The status is filtered here, not in the query: a resumed run's earlier execution (cancelled,
    // failed) must not stand for the run when its latest one has another status.
    for await (const wf of client.workflow.list({ query: listQuery(opts) })) {
      const a = wf.typedSearchAttributes;
      const str = (k: (typeof SA)[keyof typeof SA]) => (a.get(k as never) as string | undefined) ?? null;
      const num = (k: (typeof SA)[keyof typeof SA]) => (a.get(k as never) as number | undefined) ?? null;
      // Temporal's status is the truth for closed runs (e.g. terminated runs never upserted theirs).
      const temporalStatus = wf.status.name.toLowerCase();
      const headline = headlineOf(wf);
      rows.push({
        runId: wf.workflowId,
        site: str(SA.site),
        status: temporalStatus === 'running' ? (str(SA.status) ?? 'running') : temporalStatus === 'canceled' ? 'cancelled' : temporalStatus,
        stage: str(SA.stage),
        profile: str(SA.profile),
        datasetVersion: str(SA.datasetVersion),
        mreMm: headline?.mre ?? null,
        mreUnit: headline?.unit ?? null,
        progress: num(SA.progress),
        promotion: str(SA.promotion),
        promotionReason: promotionReasonOf(wf) ?? null,
        champion: null,
        startTime: wf.startTime.toISOString(),
        closeTime: wf.closeTime?.toISOString() ?? null,
      });
      // Twice the limit: room for the earlier executions of resumed runs, which are dropped below.
      if (opts.sort !== 'mre' && opts.status === undefined && opts.limit !== undefined && rows.length >= 2 * opts.limit) break;
    }
  });
  // A resumed run is listed once, as its latest execution (its status filter then applies to that one).
  const latest = latestExecutions(rows).filter((r) => opts.status === undefined || r.status === opts.status);
  rows.splice(0, rows.length, ...latest);
  const sortKey = (r: RunRow) => (r.mreMm === null ? Infinity : r.mreUnit === 'px' ? 1e12 + r.mreMm : r.mreMm);
  if (opts.sort === 'mre') rows.sort((x, y) => sortKey(x) - sortKey(y));
  else rows.sort((x, y) => (x.startTime < y.startTime ? 1 : -1));
  return opts.limit !== undefined ? rows.slice(0, opts.limit) : rows;
}

export function register(program: Command): void {
  const runs = program.command('runs').description('Runs in Temporal visibility');
  runs
    .command('list')
    .description('List pipeline runs (newest first, or by MRE)')
    .option('--site <site>', 'only this site')
    .option('--status <status>', 'running | completed | failed | cancelled')
    .option('--sort <key>', 'start | mre', 'start')
    .option('--limit <n>', 'at most n rows', '50')
    .option('--json', 'a JSON array of rows, each with "runId"')
    .action(async (opts: { site?: string; status?: string; sort: string; limit: string; json?: boolean }) => {
      if (!['start', 'mre'].includes(opts.sort)) throw new UserError(`--sort: expected start or mre, got "${opts.sort}"`);
      if (opts.status !== undefined && !RUN_STATUSES.includes(opts.status)) throw new UserError(`--status: expected one of ${RUN_STATUSES.join(', ')}, got "${opts.status}"`);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UserError(`--limit: expected a positive integer, got "${opts.limit}"`);
      const rows = await listRuns({ ...opts, limit });
      const store = createS3Store(loadStackSettings());
      try {
        for (const w of await markChampions(rows, store)) console.error(`[cc2d] ${w}`);
      } finally {
        store.destroy();
      }
      if (opts.json) {
        console.log(JSON.stringify(rows));
        return;
      }
      if (rows.length === 0) {
        console.log('no runs');
        return;
      }
      if (rows.some((r) => r.champion)) console.log("* = the site's champion now (cc2d models list)");
      for (const r of rows) {
        const mre = r.mreMm !== null ? formatMre(r.mreMm, r.mreUnit).replace(' (no pixel spacing)', '') : r.status === 'completed' ? 'no metrics' : '-';
        const promotion = r.promotion !== null ? `  ${r.promotion}: ${r.promotionReason ?? ''}` : '';
        const mark = r.champion ? '* ' : '  ';
        console.log(`${mark}${r.runId.padEnd(44)} ${r.status.padEnd(10)} ${String(r.stage ?? '-').padEnd(13)} ${String(r.site ?? '-').padEnd(12)} ${String(r.profile ?? '-').padEnd(6)} MRE ${mre.padEnd(10)} ${r.startTime}${promotion}`);
      }
    });
}
