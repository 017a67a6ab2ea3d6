/**
 * The site registry against the real S3 server: create, replace on the ETag read, and a
 * concurrent writer refused instead of silently overwritten. Skips locally without S3.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { SiteRecord } from '../../contracts/documents';
import { listSites, readSite, SITE_RECORD_FORMAT, SiteConflictError, writeSite } from '../../infra/sites/registry';
import { requireStack } from '../support/stack';

const stack = await requireStack('site-registry');
afterAll(() => stack?.cleanup());

function record(site: string, datasetVersion: string): SiteRecord {
  return { format: SITE_RECORD_FORMAT, site, dir: '/data/x', templateId: '001', landmarkNames: ['A'], spacingMm: null, spacing: 'unknown', datasetVersion, images: 2, labelled: 1, updatedAt: '2026-01-01T00:00:00.000Z' };
}

describe.skipIf(!stack)('site registry', () => {
  it('creates, replaces on the ETag read, and refuses a stale or duplicate write', async () => {
    const { store } = stack!;
    expect(await readSite(store, 'reg')).toBeUndefined();
    await writeSite(store, record('reg', 'v1'), undefined);
    await expect(writeSite(store, record('reg', 'v1b'), undefined)).rejects.toBeInstanceOf(SiteConflictError);

    const a = await readSite(store, 'reg');
    const b = await readSite(store, 'reg');
    expect(a?.record.datasetVersion).toBe('v1');
    await writeSite(store, record('reg', 'v2'), a);
    // b was read before a's write: its replace must fail, not overwrite v2.
    await expect(writeSite(store, record('reg', 'v3'), b)).rejects.toBeInstanceOf(SiteConflictError);
    expect((await readSite(store, 'reg'))?.record.datasetVersion).toBe('v2');

    await writeSite(store, record('other', 'v9'), undefined);
    expect((await listSites(store)).map((r) => [r.site, r.datasetVersion])).toEqual([
      ['other', 'v9'],
      ['reg', 'v2'],
    ]);
  });
});
