/**
 * Where the dashboard's data comes from: runs from Temporal visibility (typed search attributes
 * of `cc2dPipeline` executions, plus the `progress` query for running ones) and reports from
 * the artifact store. Both are small interfaces so the server can be tested with fakes.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { ChampionDocument } from '../../contracts/documents';
import type { PipelineProgress } from '../../contracts/types';
import { loadRunSnapshot, type RunSnapshot } from '../compare/snapshot';
import { UserError } from '../errors';
import { runKeys } from '../storage/keys';
import proto from '@temporalio/proto';
import { GPU_TASK_QUEUE, PIPELINE_WORKFLOW_TYPE, SEARCH_ATTRIBUTES as SA } from '../config/names';
import { queuePollers } from '../temporal/pollers';
import { NotFoundError, type ObjectStore } from '../storage/object-store';

const { TaskQueueType } = proto.temporal.api.enums.v1;

/** One row of the runs table (all plain JSON). */
export interface RunRow {
  runId: string;
  /** Temporal execution status, lower case: running, completed, failed, cancelled, terminated, timed_out, … */
  status: string;
  /** Cc2dStatus as upserted by the workflow (may lag the execution status). */
  cc2dStatus?: string;
  stage?: string;
  /** 0–1, from Cc2dProgress (or the live progress query when running). */
  progress?: number;
  site?: string;
  profile?: string;
  datasetVersion?: string;
  /** Headline MRE in `mreUnit`; absent for runs without metrics (no labelled evaluation image). */
  mreMm?: number;
  mreUnit?: 'mm' | 'px';
  /** The promotion gate's outcome (promoted | kept | skipped) and why (memo), as `cc2d runs list` shows them. */
  promotion?: string;
  promotionReason?: string;
  startTime: string;
  closeTime?: string;
  /** Live `progress` query result, for running runs that answered in time. */
  live?: Pick<PipelineProgress, 'stage' | 'step' | 'totalSteps' | 'loss' | 'fraction' | 'shardsDone' | 'shardCount' | 'stepsPerSecond' | 'etaSeconds' | 'measuredAt'>;
  /** Set while a GPU stage has not started and its queue has no live poller, e.g. "a GPU worker on cc2d-gpu". */
  waitingFor?: string;
}

export interface RunSource {
  listRuns(limit: number): Promise<RunRow[]>;
  progress(runId: string): Promise<PipelineProgress | undefined>;
}

export interface ReportSource {
  /** The run's report.html, or undefined when it has none (yet). */
  getReport(runId: string): Promise<Uint8Array | undefined>;
}

/** Published runs for the compare view. */
export interface CompareSource {
  /** The run's snapshot, or undefined when it is not published (not completed). */
  snapshot(runId: string): Promise<RunSnapshot | undefined>;
}

/** Per-site facts for the site view. */
export interface SiteSource {
  /** The site's champion document (champion, earlier and rolled-back champions), or undefined when it has none. */
  champion(site: string): Promise<ChampionDocument | undefined>;
}

/** Key of a run's HTML report (next to its JSON report). */
export function reportHtmlKey(runId: string): string {
  return runKeys.reportHtml(runId);
}

/**
 * A finished run's headline MRE and its unit: the memo (`mre`, `mreUnit`, written by the workflow;
 * the only place of an MRE in pixels), else Cc2dMre, which holds millimetres only.
 */
export function headlineOf(info: Pick<WorkflowExecutionInfo, 'memo' | 'typedSearchAttributes'>): { mre: number; unit: 'mm' | 'px' } | undefined {
  const memo = info.memo as { mre?: unknown; mreUnit?: unknown } | undefined;
  if (typeof memo?.mre === 'number' && (memo.mreUnit === 'mm' || memo.mreUnit === 'px')) return { mre: memo.mre, unit: memo.mreUnit };
  const mm = info.typedSearchAttributes.get(SA.mre);
  return mm === undefined || mm === null ? undefined : { mre: mm, unit: 'mm' };
}

/** The promotion gate's reason for a run (the memo, written with the Cc2dPromotion search attribute); undefined before the gate ran. */
export function promotionReasonOf(info: Pick<WorkflowExecutionInfo, 'memo'>): string | undefined {
  const reason = (info.memo as { promotionReason?: unknown } | undefined)?.promotionReason;
  return typeof reason === 'string' ? reason : undefined;
}

/**
 * One row per run id: `cc2d resume` re-executes a run under its id (a reset), so visibility lists
 * the cancelled or failed execution and its successor; the run is the successor, the one still
 * running or, else, the one closed last. Keeps the rows' order otherwise.
 */
export function latestExecutions<R extends { runId: string; closeTime?: string | null }>(rows: readonly R[]): R[] {
  const rank = (r: R): string => r.closeTime ?? '\uffff';
  const best = new Map<string, R>();
  for (const r of rows) {
    const seen = best.get(r.runId);
    if (seen === undefined || rank(r) > rank(seen)) best.set(r.runId, r);
  }
  return rows.filter((r) => best.get(r.runId) === r);
}

export function rowFromExecution(info: WorkflowExecutionInfo): RunRow {
  const sa = info.typedSearchAttributes;
  const opt = <T>(v: T | undefined, key: string): Record<string, T> => (v === undefined || v === null ? {} : { [key]: v });
  const headline = headlineOf(info);
  return {
    runId: info.workflowId,
    status: info.status.name.toLowerCase(),
    ...opt(sa.get(SA.status), 'cc2dStatus'),
    ...opt(sa.get(SA.stage), 'stage'),
    ...opt(sa.get(SA.progress), 'progress'),
    ...opt(sa.get(SA.site), 'site'),
    ...opt(sa.get(SA.profile), 'profile'),
    ...opt(sa.get(SA.datasetVersion), 'datasetVersion'),
    ...(headline ? { mreMm: headline.mre, mreUnit: headline.unit } : {}),
    ...opt(sa.get(SA.promotion), 'promotion'),
    ...opt(promotionReasonOf(info), 'promotionReason'),
    startTime: info.startTime.toISOString(),
    ...(info.closeTime ? { closeTime: info.closeTime.toISOString() } : {}),
  };
}

export interface TemporalRunSourceOptions {
  /** Only runs of this site (Cc2dSite); same rule as a run config's site. */
  site?: string;
  /** Bound on each `progress` query (a run whose worker is down never answers). */
  queryTimeoutMs?: number;
}

export const SITE_RE = /^[a-z0-9][a-z0-9-]{0,47}$/;

/** The visibility query listing cc2d runs (optionally of one site). */
export function runsQuery(site?: string): string {
  let q = `WorkflowType = '${PIPELINE_WORKFLOW_TYPE}'`;
  if (site !== undefined) {
    // Validated, never escaped: the rule admits no quote or operator character.
    if (!SITE_RE.test(site)) throw new Error(`site "${site}": must be lowercase letters, digits and "-" (at most 48 characters)`);
    q += ` AND ${SA.site.name} = '${site}'`;
  }
  return q;
}

const GPU_STAGES: ReadonlySet<string> = new Set(['ssl', 'pseudo-labels', 'tpl', 'refine']);

/** "a GPU worker on <queue>" when a GPU stage has made no step and nobody polls its queue (never a silent hang). */
async function waitingForGpu(client: Client, p: PipelineProgress): Promise<string | undefined> {
  if (!GPU_STAGES.has(p.stage) || p.step > 0) return undefined;
  const queue = p.gpuQueue ?? GPU_TASK_QUEUE;
  const pollers = await queuePollers(client, queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY).catch(() => ['?']);
  return pollers.length === 0 ? `a GPU worker on ${queue}` : undefined;
}

/** Temporal-backed run source. */
export function createTemporalRunSource(client: Client, options: TemporalRunSourceOptions = {}): RunSource {
  const queryTimeoutMs = options.queryTimeoutMs ?? 3000;
  const query = runsQuery(options.site);
  async function progress(runId: string): Promise<PipelineProgress | undefined> {
    try {
      return await client.connection.withDeadline(Date.now() + queryTimeoutMs, () =>
        client.workflow.getHandle(runId).query<PipelineProgress>('progress'),
      );
    } catch {
      return undefined;
    }
  }
  return {
    async listRuns(limit: number): Promise<RunRow[]> {
      const rows: RunRow[] = [];
      for await (const info of client.workflow.list({ query, pageSize: Math.min(limit, 500) })) {
        rows.push(rowFromExecution(info));
        if (rows.length >= limit) break;
      }
      rows.sort((a, b) => (a.startTime < b.startTime ? 1 : a.startTime > b.startTime ? -1 : 0));
      rows.splice(0, rows.length, ...latestExecutions(rows));
      // Live progress for running runs (a few at a time).
      const running = rows.filter((r) => r.status === 'running');
      for (let i = 0; i < running.length; i += 8) {
        await Promise.all(
          running.slice(i, i + 8).map(async (r) => {
            const p = await progress(r.runId);
            if (p) {
              r.live = {
                stage: p.stage, step: p.step, totalSteps: p.totalSteps, fraction: p.fraction,
                ...(p.loss !== undefined && p.loss !== null ? { loss: p.loss } : {}),
                ...(p.shardsDone !== undefined ? { shardsDone: p.shardsDone } : {}),
                ...(p.shardCount !== undefined ? { shardCount: p.shardCount } : {}),
                ...(p.etaSeconds !== undefined && p.measuredAt !== undefined ? { etaSeconds: p.etaSeconds, measuredAt: p.measuredAt } : {}),
                ...(p.stepsPerSecond !== undefined ? { stepsPerSecond: p.stepsPerSecond } : {}),
              };
              r.progress = p.fraction;
              r.stage = p.stage;
              const waitingFor = await waitingForGpu(client, p);
              if (waitingFor) r.waitingFor = waitingFor;
            }
          }),
        );
      }
      return rows;
    },
    progress,
  };
}

/** Report source on the artifact store (credentials stay in the store's client; nothing is presigned). */
export function createStoreReportSource(store: ObjectStore): ReportSource {
  return {
    async getReport(runId: string): Promise<Uint8Array | undefined> {
      try {
        return await store.get(reportHtmlKey(runId));
      } catch (err) {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      }
    },
  };
}

/** Compare source on the artifact store: a run that is not published (or not readable as one) has no snapshot. */
export function createStoreCompareSource(store: ObjectStore): CompareSource {
  return {
    async snapshot(runId: string): Promise<RunSnapshot | undefined> {
      try {
        return await loadRunSnapshot(store, runId);
      } catch (err) {
        if (err instanceof UserError) return undefined;
        throw err;
      }
    },
  };
}
