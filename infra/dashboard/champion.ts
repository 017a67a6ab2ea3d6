/**
 * A site's champion run, as the dashboard's site view shows it: the `runId` of
 * `sites/<site>/champion.json`. Read defensively (any other shape is "no champion"), so the view
 * works before the first champion is chosen and with later versions of the file.
 */
import { NotFoundError, type ObjectStore } from '../storage/object-store';
import { SITE_RE, type SiteSource } from './sources';

/** The champion's run id, or undefined when the site has none (or the file is unreadable). */
export async function championRunId(store: ObjectStore, site: string): Promise<string | undefined> {
  if (!SITE_RE.test(site)) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = await store.get(`sites/${site}/champion.json`);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  try {
    const runId = (JSON.parse(new TextDecoder().decode(bytes)) as { runId?: unknown } | null)?.runId;
    return typeof runId === 'string' && runId !== '' ? runId : undefined;
  } catch {
    return undefined;
  }
}

/** Site source on the artifact store (the champion file of each site). */
export function createStoreSiteSource(store: ObjectStore): SiteSource {
  return { champion: (site) => championRunId(store, site) };
}
