/**
 * The dashboard's site view reads a site's champion through the one reader of
 * `sites/<site>/champion.json` (infra/models/champion.ts).
 */
import { readChampion } from '../models/champion';
import type { ObjectStore } from '../storage/object-store';
import { SITE_RE, type SiteSource } from './sources';

/** Site source on the artifact store (the champion file of each site). */
export function createStoreSiteSource(store: ObjectStore): SiteSource {
  return { champion: async (site) => (SITE_RE.test(site) ? readChampion(store, site) : undefined) };
}
