/**
 * The champion of a site: the run whose model `predict` uses by default. Stored as
 * `sites/<site>/champion.json` (contracts/documents.ts ChampionDocumentSchema) and replaced only
 * by compare-and-swap: read it with its ETag, decide, put with `If-Match` (or `If-None-Match: *`
 * for the first champion). A writer that lost the race re-reads and decides again against the
 * new champion, so two runs finishing together cannot both win.
 */
import {
  CHAMPION_FORMAT, ChampionDocumentSchema, MetricsDocumentSchema, type ChampionDocument, type ChampionEntry, type MetricsDocument, type RolledBackEntry,
} from '../../contracts/documents';
import { UserError } from '../errors';
import { checkRunId, readManifest, readManifestFile, RunIdMismatchError } from '../storage/manifest';
import { NotFoundError, PreconditionFailedError, type ObjectStore, type VersionedObjectStore } from '../storage/object-store';
import { parseJson } from '../storage/read-json';
import { runKeys, runPrefix, siteKeys } from '../storage/keys';
import { decidePromotion, type GateDecision, type ScoredRun } from './gate';

export function championKey(site: string): string {
  return siteKeys.champion(site);
}

/** Fixed key of the gate's decision on a run, next to the run's report. */
export function promotionKey(runId: string): string {
  return `${runKeys.prefix(runId)}/report/promotion.json`;
}

const MAX_SWAP_ATTEMPTS = 20;
/** Earlier champions kept for rollback, and rolled-back champions kept on record: at most this many each. */
const MAX_HISTORY = 100;

/** A champion document as `models list --json` and the dashboard's site API show it: the lists newest first. */
export function championListing(doc: ChampionDocument | undefined): { champion: ChampionEntry | null; revision: number | null; history: ChampionEntry[]; rolledBack: RolledBackEntry[] } {
  return {
    champion: doc?.champion ?? null, revision: doc?.revision ?? null,
    history: [...(doc?.history ?? [])].reverse(), rolledBack: [...(doc?.rolledBack ?? [])].reverse(),
  };
}

export async function readChampion(store: ObjectStore, site: string): Promise<ChampionDocument | undefined> {
  const key = championKey(site);
  try {
    return parseJson(key, await store.get(key), ChampionDocumentSchema);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** The run id of the site's champion, or undefined when the site has none. */
export async function championRunId(store: ObjectStore, site: string): Promise<string | undefined> {
  return (await readChampion(store, site))?.champion.runId;
}

/**
 * Marks each listed run that is its site's champion now (`champion`), reading each site's
 * champion once, all sites at once. A run id listed twice (a resumed run keeps its workflow id)
 * is marked on its first, newest row only; a row without a site is marked when its run is some
 * listed site's champion, else left unknown (null), as are the rows of a site whose champion
 * cannot be read, which is named in the returned warnings instead of failing the listing.
 */
export async function markChampions(rows: Array<{ runId: string; site: string | null; champion: boolean | null }>, store: ObjectStore): Promise<string[]> {
  const sites = [...new Set(rows.flatMap((r) => (r.site !== null ? [r.site] : [])))];
  const warnings: string[] = [];
  const champions = new Map<string, string | undefined | null>(await Promise.all(sites.map(async (site) => [site, await championRunId(store, site).catch((err: unknown) => {
    warnings.push(`site ${site}: its champion cannot be read (${(err as Error).message})`);
    return null;
  })] as const)));
  const championIds = new Set([...champions.values()].filter((id): id is string => typeof id === 'string'));
  const marked = new Set<string>();
  for (const r of rows) {
    const championId = r.site === null ? (championIds.has(r.runId) ? r.runId : null) : champions.get(r.site);
    r.champion = championId === null ? null : championId === r.runId && !marked.has(r.runId);
    if (r.champion) marked.add(r.runId);
  }
  return warnings;
}

/**
 * Replaces the champion document by compare-and-swap. `change` gets the current document (or
 * undefined) and returns the next one, or undefined to leave it; it is called again after a lost
 * race, with the document that won.
 */
export async function swapChampion(
  store: VersionedObjectStore,
  site: string,
  change: (current: ChampionDocument | undefined) => Promise<ChampionDocument | undefined>,
): Promise<{ document: ChampionDocument | undefined; changed: boolean }> {
  const key = championKey(site);
  for (let attempt = 0; attempt < MAX_SWAP_ATTEMPTS; attempt++) {
    const read = await store.getVersioned(key);
    const current = read ? parseJson(key, read.body, ChampionDocumentSchema) : undefined;
    const next = await change(current);
    if (!next) return { document: current, changed: false };
    const bytes = new TextEncoder().encode(JSON.stringify(ChampionDocumentSchema.parse(next), null, 2));
    try {
      await store.put(key, bytes, { contentType: 'application/json', ...(read ? { ifMatch: read.etag } : { ifNoneMatch: true }) });
      return { document: next, changed: true };
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
    }
  }
  throw new Error(`${key}: still contended after ${MAX_SWAP_ATTEMPTS} compare-and-swap attempts`);
}

function crowned(current: ChampionDocument | undefined, site: string, entry: ChampionEntry): ChampionDocument {
  const history = current ? [...current.history, current.champion].slice(-MAX_HISTORY) : [];
  return {
    format: CHAMPION_FORMAT, site, revision: (current?.revision ?? -1) + 1, champion: entry, history,
    ...(current?.rolledBack ? { rolledBack: current.rolledBack } : {}),
  };
}

/** What the gate and the CLI need of a published run. */
export interface PublishedRun {
  runId: string;
  site: string;
  datasetVersion?: string;
  mre?: number;
  unit?: 'mm' | 'px';
  /** Protocol-A errors per scored evaluation image; undefined when the run has no metrics. */
  scored: ScoredRun | undefined;
}

/** Reads a published run's lineage and metrics; NotFoundError when the run is not published, RunIdMismatchError when its folder holds another run. */
export async function readPublishedRun(store: ObjectStore, runId: string): Promise<PublishedRun> {
  const prefix = runPrefix(runId);
  const manifest = checkRunId(await readManifest(store, prefix, { verify: 'none' }), runId, prefix);
  const meta = manifest.meta as Record<string, unknown>;
  const site = typeof meta.site === 'string' ? meta.site : 'default';
  const unit: 'mm' | 'px' = meta.unit === 'px' ? 'px' : 'mm';
  const base: Omit<PublishedRun, 'scored'> = {
    runId, site,
    ...(typeof meta.datasetVersion === 'string' ? { datasetVersion: meta.datasetVersion } : {}),
    ...(typeof meta.mreMm === 'number' ? { mre: meta.mreMm, unit } : {}),
  };
  const metricsRel = (meta.artifacts as Record<string, unknown> | undefined)?.metrics;
  if (typeof metricsRel !== 'string' || meta.noMetrics !== undefined) return { ...base, scored: undefined };
  const metrics = parseJson(`${prefix}/${metricsRel}`, await readManifestFile(store, prefix, manifest, metricsRel), MetricsDocumentSchema);
  return { ...base, scored: scoredRunOf(runId, metrics) };
}

/** A run's protocol-A errors per scored evaluation image, as the gate compares them; undefined when nothing was scored. */
export function scoredRunOf(runId: string, metrics: MetricsDocument): ScoredRun | undefined {
  const errorsById = new Map<string, number[]>();
  for (const set of Object.values(metrics.errors.find((e) => e.protocol === 'A')?.sets ?? {})) {
    for (const image of set) errorsById.set(image.id, image.errorsMm);
  }
  return errorsById.size > 0 ? { runId, unit: metrics.unit ?? 'mm', errorsById } : undefined;
}

/** How long the gate waits for a champion's lineage manifest: the report stage crowns a run just before publishing it. */
const CHAMPION_PUBLISH_WAIT_MS = 30_000;

async function readChampionRun(store: ObjectStore, runId: string): Promise<PublishedRun> {
  const deadline = Date.now() + CHAMPION_PUBLISH_WAIT_MS;
  for (;;) {
    try {
      return await readPublishedRun(store, runId);
    } catch (err) {
      if (!(err instanceof NotFoundError) || Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function entryOf(run: PublishedRun, by: ChampionEntry['by'], reason: string, now: Date): ChampionEntry {
  return {
    runId: run.runId, since: now.toISOString(), by, reason,
    ...(run.datasetVersion !== undefined ? { datasetVersion: run.datasetVersion } : {}),
    ...(run.mre !== undefined ? { mre: run.mre, unit: run.unit } : {}),
  };
}

export interface GateResult extends GateDecision {
  site: string;
  /** The champion the run was compared with (absent when the site had none). */
  championBefore?: string;
}

/**
 * The promotion gate: decides against the site's current champion (re-deciding after a lost race)
 * and, when promoted, makes the run the champion. The run is a published one, or `candidate`
 * (what its manifest is about to say: the report stage decides just before publishing, so its
 * report can show the decision). Idempotent: a run that already is the champion stays promoted.
 */
export async function promoteIfBetter(
  store: VersionedObjectStore,
  args: { runId: string; candidate?: PublishedRun; minMre?: number; now?: Date },
): Promise<GateResult> {
  const candidate = args.candidate ?? (await readPublishedRun(store, args.runId));
  const { site } = candidate;
  const champions = new Map<string, PublishedRun | Error>();
  let result: GateResult = { site, outcome: 'skipped', reason: 'not decided' };
  await swapChampion(store, site, async (current) => {
    const championId = current?.champion.runId;
    const before = championId !== undefined ? { site, championBefore: championId } : { site };
    if (championId === args.runId) {
      result = { ...before, outcome: 'promoted', reason: 'the run already is the champion' };
      return undefined;
    }
    let champion: ScoredRun | undefined;
    if (championId !== undefined && candidate.scored) {
      if (!champions.has(championId)) champions.set(championId, await readChampionRun(store, championId).catch((err: unknown) => err as Error));
      const read = champions.get(championId)!;
      if (read instanceof Error || !read.scored) {
        const why = read instanceof Error ? `its metrics cannot be read (${read.message})` : 'it has no metrics (promoted by hand)';
        result = { ...before, outcome: 'kept', reason: `champion ${championId} cannot be compared with: ${why}` };
        return undefined;
      }
      champion = read.scored;
    }
    result = {
      ...before,
      ...decidePromotion({ candidate: candidate.scored, ...(champion ? { champion } : {}), ...(args.minMre !== undefined ? { minMre: args.minMre } : {}) }),
    };
    return result.outcome === 'promoted' ? crowned(current, site, entryOf(candidate, 'gate', result.reason, args.now ?? new Date())) : undefined;
  });
  return result;
}

/** `cc2d models promote RUN`: makes a published run its site's champion, bypassing the gate. */
export async function promoteManually(store: VersionedObjectStore, runId: string, now = new Date()): Promise<ChampionDocument> {
  const run = await readPublishedRun(store, runId).catch((err: unknown) => {
    if (err instanceof RunIdMismatchError) throw new UserError(`run ${runId} is not published (${err.message}): only finished runs can be promoted`);
    if (err instanceof NotFoundError) throw new UserError(`run ${runId} is not published (no ${runKeys.manifest(runId)}): only finished runs can be promoted`);
    throw err;
  });
  const { document } = await swapChampion(store, run.site, async (current) =>
    current?.champion.runId === runId ? undefined : crowned(current, run.site, entryOf(run, 'manual', 'promoted by hand', now)),
  );
  return document!;
}

/** `cc2d models rollback --site S`: the previous champion becomes the champion again. */
export async function rollbackChampion(store: VersionedObjectStore, site: string, now = new Date()): Promise<{ from: string; to: ChampionEntry }> {
  let from = '';
  const { document } = await swapChampion(store, site, async (current) => {
    if (!current) throw new UserError(`site ${site} has no champion`);
    const previous = current.history[current.history.length - 1];
    if (!previous) throw new UserError(`site ${site}: champion ${current.champion.runId} has no predecessor to roll back to`);
    from = current.champion.runId;
    return {
      ...current,
      revision: current.revision + 1,
      // The restored champion leaves the history (a second rollback goes further back, not forth);
      // the demoted one is kept among the rolled-back ones, so `models list` still shows that it
      // served. (A worker older than that list rebuilds the document without it when it crowns.)
      history: current.history.slice(0, -1),
      rolledBack: [...(current.rolledBack ?? []), { ...current.champion, until: now.toISOString() }].slice(-MAX_HISTORY),
      champion: { ...previous, since: now.toISOString(), by: 'rollback', reason: `rolled back from ${from}` },
    };
  });
  return { from, to: document!.champion };
}
