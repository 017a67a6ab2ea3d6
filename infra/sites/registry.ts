/**
 * The site registry: one record per site at `sites/<site>/site.json` (SiteRecordSchema), written
 * by `cc2d site add` after its dataset version is published, read by `cc2d run --site` and
 * `cc2d schedule create --site`. A record is replaced only with a conditional put on the ETag it
 * was read with (a new site: If-None-Match), so two concurrent adds of one site cannot silently
 * overwrite each other: the later one fails with SiteConflictError and can be re-run.
 */
import { SiteRecordSchema, type SiteRecord } from '../../contracts/documents';
import { UserError } from '../errors';
import { NotFoundError, PreconditionFailedError, type ObjectStore } from '../storage/object-store';
import { readJson } from '../storage/read-json';

export const SITES_PREFIX = 'sites';
export const SITE_RECORD_FORMAT = 'cc2d-site-v1';

export function siteRecordKey(site: string): string {
  return `${SITES_PREFIX}/${site}/site.json`;
}

/** The store operations the registry needs: the ETag from a HEAD makes the conditional replace possible. */
export type SiteStore = ObjectStore & { head(key: string): Promise<{ etag?: string } | undefined> };

export interface StoredSite {
  record: SiteRecord;
  /** The ETag the record was read with; a replace is conditional on it. */
  etag: string;
}

export class SiteConflictError extends UserError {
  constructor(readonly site: string) {
    super(`site ${site}: its record was changed by someone else meanwhile (sites/${site}/site.json); run the command again`);
    this.name = 'SiteConflictError';
  }
}

/** The site's record, or undefined when the site is not registered. */
export async function readSite(store: SiteStore, site: string): Promise<StoredSite | undefined> {
  const key = siteRecordKey(site);
  // HEAD before GET: if the record changes in between, the stale ETag makes the later write fail (never a silent overwrite).
  const head = await store.head(key);
  if (head === undefined) return undefined;
  try {
    return { record: await readJson(store, key, SiteRecordSchema), etag: head.etag ?? '*' };
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/**
 * Writes `record`: a create when `previous` is undefined (fails if the site appeared meanwhile),
 * else a replace of exactly the version read (fails if it changed or vanished).
 */
export async function writeSite(store: SiteStore, record: SiteRecord, previous: StoredSite | undefined): Promise<void> {
  const bytes = new TextEncoder().encode(`${JSON.stringify(SiteRecordSchema.parse(record))}\n`);
  try {
    await store.put(siteRecordKey(record.site), bytes, { contentType: 'application/json', ...(previous === undefined ? { ifNoneMatch: true } : { ifMatch: previous.etag }) });
  } catch (err) {
    if (err instanceof PreconditionFailedError) throw new SiteConflictError(record.site);
    throw err;
  }
}

/**
 * Removes the site's record (`cc2d site remove`): the site leaves `site list` and `run --site`;
 * its dataset versions, runs, champion and predictions stay (other records refer to them).
 * Returns the record removed; a UserError when the site is not registered.
 */
export async function removeSite(store: SiteStore, site: string): Promise<SiteRecord> {
  const stored = await readSite(store, site);
  if (stored === undefined) throw new UserError(`site ${site} is not registered (cc2d site list shows the sites)`);
  await store.delete([siteRecordKey(site)]);
  return stored.record;
}

/** Every registered site, ordered by name. */
export async function listSites(store: SiteStore): Promise<SiteRecord[]> {
  const keys = (await store.list(`${SITES_PREFIX}/`)).map((o) => o.key).filter((k) => /^sites\/[^/]+\/site\.json$/.test(k));
  return Promise.all(keys.sort().map((k) => readJson(store, k, SiteRecordSchema)));
}
