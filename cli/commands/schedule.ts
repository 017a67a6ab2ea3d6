/**
 * `cc2d schedule create|list|delete|trigger`: periodic retraining of a site with Temporal
 * Schedules. A site = its image folder + its one labelled template. Every scheduled run ingests
 * the folder; an unchanged folder has the same content hash, so the run reuses the published
 * dataset version instead of re-ingesting. Overlap policy SKIP: never two trainings of one site
 * at once (a GPU retrain can outlast its interval).
 */
import type { Command } from 'commander';
import type { Client, ScheduleDescription, ScheduleHandle } from '@temporalio/client';
import { loadRunConfig, type PipelineInput, type RunConfigFlags } from '../../infra/config/run-config';
import { SCHEDULE_PREFIX, scheduleIdOf, SEARCH_ATTRIBUTES as SA, WORKFLOW_TASK_QUEUE } from '../../infra/config/names';
import { loadStackSettings } from '../../infra/config/stack';
import { UserError } from '../../infra/errors';
import { withClient } from '../../infra/temporal/connect';
import { findSiteSchedule } from '../../infra/temporal/site-schedule';
import type { cc2dPipeline } from '../../workflows';
import { PIPELINE_WORKFLOW_TYPE } from '../../workflows/definitions';
import { collect } from '../options';
import { preflight } from '../pipeline-client';
import { registeredSiteDefaults } from './site';


interface CreateFlags extends RunConfigFlags {
  every?: string;
  cron?: string;
  paused?: boolean;
  catchupWindow: string;
  json?: boolean;
}

function summary(d: ScheduleDescription): Record<string, unknown> {
  return {
    scheduleId: d.scheduleId,
    site: d.scheduleId.slice(SCHEDULE_PREFIX.length),
    paused: d.state.paused,
    intervals: d.spec.intervals?.map((i) => String(i.every)) ?? [],
    calendars: d.spec.calendars?.length ?? 0,
    cron: (d.spec as { cronExpressions?: string[] }).cronExpressions ?? [],
    overlap: d.policies.overlap,
    nextActionTimes: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
    recentRuns: d.info.recentActions.slice(-5).map((a) => ({ workflowId: a.action.workflow.workflowId, scheduledAt: a.scheduledAt.toISOString() })),
    runningRuns: d.info.runningActions.map((a) => a.workflow.workflowId),
  };
}

export interface SiteScheduleOptions {
  every?: string;
  cron?: string;
  catchupWindow?: string;
  paused?: boolean;
  /** Default cc2d-workflows. */
  workflowTaskQueue?: string;
}

/**
 * Creates the site's schedule: every action starts `cc2dPipeline` with the validated input
 * (dataset.dir, so unchanged data is reused by content hash); overlap SKIP.
 */
export async function createSiteSchedule(client: Client, input: PipelineInput, o: SiteScheduleOptions): Promise<ScheduleHandle> {
  const { config } = input;
  return client.schedule.create({
    scheduleId: scheduleIdOf(config.site),
    spec: o.every !== undefined ? { intervals: [{ every: o.every as '1d' }] } : { cronExpressions: [o.cron!] },
    action: {
      type: 'startWorkflow',
      workflowType: PIPELINE_WORKFLOW_TYPE as unknown as typeof cc2dPipeline,
      args: [input],
      taskQueue: o.workflowTaskQueue ?? WORKFLOW_TASK_QUEUE,
      workflowId: `cc2d-${config.site}-sched`,
      typedSearchAttributes: [
        { key: SA.site, value: config.site },
        { key: SA.profile, value: input.profile.name },
        { key: SA.stage, value: 'queued' },
        { key: SA.status, value: 'running' },
      ],
    },
    policies: { overlap: 'SKIP', catchupWindow: (o.catchupWindow ?? '1h') as '1h', pauseOnFailure: false },
    state: { paused: o.paused ?? false, note: `cc2d site ${config.site}: template ${config.templateId}, profile ${input.profile.name}` },
  });
}

/** The site's schedule, described; a UserError (exit 2) naming the fix when the site has none. */
async function describeSiteSchedule(client: Client, site: string): Promise<{ handle: ScheduleHandle; description: ScheduleDescription }> {
  const found = await findSiteSchedule(client, site);
  if (!found) throw new UserError(`site ${site} has no schedule (${scheduleIdOf(site)}); create one with cc2d schedule create --site ${site} --every 7d`);
  return found;
}

/**
 * Starts the site's scheduled run now, or skips it while one is running (the server decides, by
 * the overlap policy SKIP; the SDK's trigger() defaults to ALLOW_ALL, which would start a second
 * training of the site beside the first). Returns the runs that were running just before, which
 * the server skips this trigger for.
 */
export async function triggerSiteSchedule(client: Client, site: string): Promise<{ runningBefore: string[] }> {
  const { handle, description } = await describeSiteSchedule(client, site);
  await handle.trigger('SKIP');
  return { runningBefore: description.info.runningActions.map((a) => a.workflow.workflowId) };
}

/**
 * Runs every slot of the site's schedule in [from, to] (e.g. missed while paused or down), one
 * after another: BUFFER_ALL queues each slot until the previous run closes, where the default
 * (SKIP) would drop all but the first.
 */
export async function backfillSiteSchedule(client: Client, site: string, from: Date, to: Date): Promise<void> {
  const { handle } = await describeSiteSchedule(client, site);
  await handle.backfill({ start: from, end: to, overlap: 'BUFFER_ALL' });
}

function parseDate(value: string, flag: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new UserError(`schedule backfill: ${flag} "${value}" is not a date (ISO 8601, e.g. 2024-05-01T00:00:00Z)`);
  return d;
}

export function register(program: Command): void {
  const schedule = program.command('schedule').description('Retrain a site on a schedule (Temporal Schedules, overlap: skip)');

  schedule
    .command('create')
    .description('Create the schedule of a site (its dataset folder + template); validated like `run`')
    .requiredOption('--site <name>', 'site name; a registered site (cc2d site add) supplies its folder, template and spacing')
    .option('-c, --config <file>', 'run config (YAML or JSON)')
    .option('--dataset <dir>', "the site's image folder (site folder or ISBI layout)")
    .option('--spacing <mm>', 'pixel spacing in mm (dataset.pixelSpacingMm)')
    .option('--template <id>', "the site's labelled template id")
    .option('--profile <name>', 'smoke | quick | cpu | paper')
    .option('--seed <n>', 'run seed')
    .option('--shards <n>', 'pseudo-label shards')
    .option('--min-mre <value>', "the site's bar for a first champion (runs promote only through the gate)")
    .option('--set <field=value>', 'override a config field (repeatable)', collect, [])
    .option('--every <duration>', "interval, e.g. '24h' or '7d'")
    .option('--cron <expr>', "cron expression, e.g. '0 3 * * 1'")
    .option('--catchup-window <duration>', 'how late a missed action may still run (e.g. after downtime)', '1h')
    .option('--paused', 'create paused')
    .option('--json', 'print the schedule as JSON')
    .action(async (flags: CreateFlags) => {
      if ((flags.every === undefined) === (flags.cron === undefined)) throw new UserError('schedule create: give exactly one of --every or --cron');
      const settings = loadStackSettings();
      const config = await loadRunConfig(flags, process.env, (site) => registeredSiteDefaults(settings, site));
      if (config.dataset.dir === undefined) throw new UserError('schedule create: a site schedule needs dataset.dir (its image folder), not a fixed dataset version');
      const input = await preflight(config, settings);
      const scheduleId = scheduleIdOf(config.site);
      await withClient(settings, async (client) => {
        const handle = await createSiteSchedule(client, input, {
          ...(flags.every !== undefined ? { every: flags.every } : { cron: flags.cron! }),
          catchupWindow: flags.catchupWindow,
          paused: flags.paused ?? false,
        });
        const d = await handle.describe();
        if (flags.json) console.log(JSON.stringify(summary(d)));
        else console.log(`created ${scheduleId}: ${d.state.paused ? `paused: no run until it is unpaused (cc2d schedule trigger ${config.site} runs it once now)` : `next run ${d.info.nextActionTimes[0]?.toISOString() ?? '-'}`}`);
      }).catch((err: unknown) => {
        if ((err as Error).name === 'ScheduleAlreadyRunning') throw new UserError(`schedule ${scheduleId} already exists; delete it first`);
        throw err;
      });
    });

  schedule
    .command('list')
    .description('List site schedules')
    .option('--json', 'a JSON array')
    .action(async (opts: { json?: boolean }) => {
      await withClient(loadStackSettings(), async (client) => {
        const rows: Record<string, unknown>[] = [];
        for await (const s of client.schedule.list()) {
          if (!s.scheduleId.startsWith(SCHEDULE_PREFIX)) continue;
          rows.push(summary(await client.schedule.getHandle(s.scheduleId).describe()));
        }
        if (opts.json) console.log(JSON.stringify(rows));
        else if (rows.length === 0) console.log('no schedules');
        else for (const r of rows) console.log(`${String(r.scheduleId).padEnd(32)} ${r.paused ? 'paused ' : 'active '} next ${(r.nextActionTimes as string[])[0] ?? '-'}  running ${(r.runningRuns as string[]).length}`);
      });
    });

  schedule
    .command('delete <site>')
    .description("Delete a site's schedule (running runs continue)")
    .action(async (site: string) => {
      await withClient(loadStackSettings(), async (client) => {
        const { handle } = await describeSiteSchedule(client, site);
        await handle.delete();
        console.log(`deleted ${scheduleIdOf(site)}`);
      });
    });

  schedule
    .command('trigger <site>')
    .description("Start the site's scheduled run now (skipped if one is running)")
    .action(async (site: string) => {
      await withClient(loadStackSettings(), async (client) => {
        const { runningBefore } = await triggerSiteSchedule(client, site);
        console.log(runningBefore.length > 0
          ? `skipped: ${runningBefore.join(', ')} of ${scheduleIdOf(site)} is still running (overlap policy: skip)`
          : `triggered ${scheduleIdOf(site)}`);
      });
    });

  schedule
    .command('backfill <site>')
    .description("Run the site's scheduled slots between two times, one after another (also while paused)")
    .requiredOption('--from <time>', 'start of the range (ISO 8601)')
    .requiredOption('--to <time>', 'end of the range (ISO 8601)')
    .action(async (site: string, opts: { from: string; to: string }) => {
      const from = parseDate(opts.from, '--from');
      const to = parseDate(opts.to, '--to');
      if (to <= from) throw new UserError('schedule backfill: --to must be after --from');
      await withClient(loadStackSettings(), async (client) => {
        await backfillSiteSchedule(client, site, from, to);
        console.log(`backfilling ${scheduleIdOf(site)} from ${from.toISOString()} to ${to.toISOString()}`);
      });
    });
}
