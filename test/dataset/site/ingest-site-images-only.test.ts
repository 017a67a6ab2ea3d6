/**
 * A site folder ingested before its template is chosen (`cc2d site add` without --template):
 * the images alone, every one an unlabelled training image, no landmarks; `landmarks/` is not
 * read. Real S3 server; skips locally without it and FAILS under CI.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetDescriptionSchema, DatasetLabelsSchema, DatasetSplitSchema } from '../../../contracts/documents';
import { DATASET_FILES } from '../../../infra/dataset/published';
import { ingestSite } from '../../../infra/dataset/site/ingest-site';
import { readJson } from '../../../infra/storage/read-json';
import { requireStack } from '../../support/stack';
import { makeFlatSite, type SiteFolder } from './support/site-fixture';

const stack = await requireStack('site-ingest-images-only');
const folders: SiteFolder[] = [];
afterAll(async () => {
  await Promise.all(folders.map((f) => f.cleanup()));
  await stack?.cleanup();
});

describe.skipIf(!stack)('ingestSite without a template', () => {
  it('publishes the images only (all in train, none labelled, K = 0) and differs from the version with a template', async () => {
    const { store } = stack!;
    const site = await makeFlatSite(4, 3, ['003']);
    folders.push(site);
    const r = await ingestSite(store, { dir: site.root, sizes: [32], site: 'no-template' });
    expect(r).toMatchObject({ reused: false, counts: { images: 4, labelled: 0, train: 4, eval: 0 }, landmarkNames: [], templateId: undefined });
    const labels = await readJson(store, `${r.prefix}/${DATASET_FILES.labels}`, DatasetLabelsSchema);
    expect(labels.landmarkCount).toBe(0);
    expect(Object.values(labels.images).every((l) => !l.labelled && l.workingYx === undefined)).toBe(true);
    expect(await readJson(store, `${r.prefix}/${DATASET_FILES.split}`, DatasetSplitSchema)).toEqual({ train: ['001', '002', '003', '004'], eval: [] });
    const description = await readJson(store, `${r.prefix}/${DATASET_FILES.description}`, DatasetDescriptionSchema);
    expect(description.templateId).toBeUndefined();

    const again = await ingestSite(store, { dir: site.root, sizes: [32], site: 'no-template' });
    expect(again).toMatchObject({ reused: true, datasetVersion: r.datasetVersion });
    const withTemplate = await ingestSite(store, { dir: site.root, templateId: '001', sizes: [32], site: 'no-template' });
    expect(withTemplate.datasetVersion).not.toBe(r.datasetVersion);
    expect(withTemplate.counts).toMatchObject({ labelled: 2, eval: 1 });
  });
});
