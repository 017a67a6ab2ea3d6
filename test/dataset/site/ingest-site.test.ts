/**
 * Site folder ingestion into the real S3 server: publish, reuse, a new version after adding an
 * image, K = 1 and K = 30, DICOM spacing, and bad folders (one report naming file and problem,
 * nothing under datasets/). Without S3 this file skips locally and FAILS under CI.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetDescriptionSchema, DatasetLabelsSchema, DatasetSplitSchema } from '../../../contracts/documents';
import { DATASET_FILES } from '../../../infra/dataset/published';
import { ingestSite } from '../../../infra/dataset/site/ingest-site';
import { decodeWorkingPng } from '../../../infra/dataset/working-image';
import { DatasetInvalidError } from '../../../infra/errors';
import { readManifest } from '../../../infra/storage/manifest';
import { readJson } from '../../../infra/storage/read-json';
import { requireStack } from '../../support/stack';
import { makeFlatSite, makeSiteFolder, sitePoints, SITE_H, SITE_W, type SiteFolder } from './support/site-fixture';

const stack = await requireStack('site-ingest');
const folders: SiteFolder[] = [];
afterAll(async () => {
  await Promise.all(folders.map((f) => f.cleanup()));
  await stack?.cleanup();
});

async function track(f: Promise<SiteFolder>): Promise<SiteFolder> {
  const folder = await f;
  folders.push(folder);
  return folder;
}

async function published(prefix: string) {
  const { store } = stack!;
  return {
    labels: await readJson(store, `${prefix}/${DATASET_FILES.labels}`, DatasetLabelsSchema),
    split: await readJson(store, `${prefix}/${DATASET_FILES.split}`, DatasetSplitSchema),
    description: await readJson(store, `${prefix}/${DATASET_FILES.description}`, DatasetDescriptionSchema),
  };
}

async function rejection(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(DatasetInvalidError);
  return (err as DatasetInvalidError).problems;
}

describe.skipIf(!stack)('ingestSite', () => {
  it('publishes a flat folder (template + 2 evaluation images), reuses it unchanged, and makes a new version when an image is added', async () => {
    const { store } = stack!;
    const site = await track(makeFlatSite(6, 5, ['004', '005']));
    const r = await ingestSite(store, { dir: site.root, templateId: '001', sizes: [32, 64], site: 'flat' });
    expect(r).toMatchObject({ reused: false, counts: { images: 6, labelled: 3, train: 4, eval: 2 }, landmarkNames: ['L1', 'L2', 'L3', 'L4', 'L5'], spacing: 'unknown', pixelSpacingMm: null });
    const manifest = await readManifest(store, r.prefix, { verify: 'hashes' });
    expect(manifest.files.map((f) => f.key).sort()).toEqual(
      [...[32, 64].flatMap((s) => ['001', '002', '003', '004', '005', '006'].map((id) => DATASET_FILES.image(s, id))), 'dataset.json', 'labels.json', 'split.json'].sort(),
    );
    const png = await decodeWorkingPng(await store.get(`${r.prefix}/${DATASET_FILES.image(32, '002')}`));
    expect([png.width, png.height]).toEqual([32, 32]);

    const { labels, split, description } = await published(r.prefix);
    expect(split).toEqual({ train: ['001', '002', '003', '006'], eval: ['004', '005'] });
    expect(labels.landmarkNames).toEqual(['L1', 'L2', 'L3', 'L4', 'L5']);
    const template = labels.images['001']!;
    const points = sitePoints(5);
    expect(template).toMatchObject({ split: 'train', labelled: true, widthPx: SITE_W, heightPx: SITE_H, sourceFormat: 'png', spacingMm: null, spacingSource: null });
    expect(template.gtMeanXyPx).toEqual(points.map((p) => [p.x, p.y]));
    expect(template.gtTruncXyPx).toEqual(points.map((p) => [Math.floor(p.x), Math.floor(p.y)]));
    expect(template.workingYx!['64']).toEqual(points.map((p) => [Math.trunc((Math.floor(p.y) * 64) / SITE_H), Math.trunc((Math.floor(p.x) * 64) / SITE_W)]));
    expect(labels.images['004']).toMatchObject({ split: 'eval', labelled: true });
    expect(labels.images['002']).toMatchObject({ split: 'train', labelled: false });
    expect(labels.images['002']!.gtMeanXyPx).toBeUndefined();
    expect(description).toMatchObject({
      kind: 'site',
      templateId: '001',
      spacing: 'unknown',
      pixelSpacingMm: null,
      landmarkCount: 5,
      counts: { images: 6, labelled: 3, train: 4, eval: 2 },
      splits: ['train', 'eval'],
      testIdsCovered: { eval: ['004', '005'] },
    });
    expect(description.mmPerWorkingPx).toBeUndefined();

    const again = await ingestSite(store, { dir: site.root, templateId: '001', sizes: [64, 32] });
    expect(again).toMatchObject({ datasetVersion: r.datasetVersion, reused: true, objectsWritten: 0 });
    // A run ingests at its profile's size only: the version published at every size serves it.
    const narrower = await ingestSite(store, { dir: site.root, templateId: '001', sizes: [32], reusableSizes: [64] });
    expect(narrower).toMatchObject({ datasetVersion: r.datasetVersion, sizes: [32, 64], reused: true, objectsWritten: 0 });
    // Also when the folder was published at the run's size alone (another site's run on the same folder).
    const alone = await ingestSite(store, { dir: site.root, templateId: '001', sizes: [32] });
    expect(alone).toMatchObject({ reused: false, sizes: [32] });
    expect(alone.datasetVersion).not.toBe(r.datasetVersion);
    expect(await ingestSite(store, { dir: site.root, templateId: '001', sizes: [32], reusableSizes: [64] })).toMatchObject({ datasetVersion: r.datasetVersion, reused: true });

    await site.addPng('007');
    const grown = await ingestSite(store, { dir: site.root, templateId: '001', sizes: [32, 64] });
    expect(grown.reused).toBe(false);
    expect(grown.datasetVersion).not.toBe(r.datasetVersion);
    expect(grown.counts).toEqual({ images: 7, labelled: 3, train: 5, eval: 2 });
    // The template and --spacing are part of the version.
    const fixed = await ingestSite(store, { dir: site.root, templateId: '001', sizes: [32, 64], spacingMm: 0.2 });
    expect(fixed).toMatchObject({ spacing: 'fixed', pixelSpacingMm: 0.2 });
    expect(fixed.datasetVersion).not.toBe(grown.datasetVersion);
    expect((await published(fixed.prefix)).description.mmPerWorkingPx).toEqual({ '32': { y: (0.2 * SITE_H) / 32, x: (0.2 * SITE_W) / 32 }, '64': { y: (0.2 * SITE_H) / 64, x: (0.2 * SITE_W) / 64 } });
  });

  it.each([1, 30])('K = %i landmarks, only the template labelled', async (k) => {
    const site = await track(makeFlatSite(3, k));
    const r = await ingestSite(stack!.store, { dir: site.root, templateId: '001', sizes: [32] });
    expect(r.landmarkNames).toHaveLength(k);
    expect(r.counts).toEqual({ images: 3, labelled: 1, train: 3, eval: 0 });
    const { labels, description } = await published(r.prefix);
    expect(labels.landmarkCount).toBe(k);
    expect(labels.images['001']!.workingYx!['32']).toHaveLength(k);
    expect(description.testIdsCovered).toEqual({ eval: [] });
    expect(description.splits).toEqual(['train']);
  });

  it('DICOM: spacing 0.125 mm from PixelSpacing, recorded per image', async () => {
    const site = await track(makeSiteFolder());
    await site.addDicom('d1', 0.125);
    await site.addDicom('d2', 0.125);
    await site.label('d1', sitePoints(4));
    const r = await ingestSite(stack!.store, { dir: site.root, templateId: 'd1', sizes: [32] });
    expect(r).toMatchObject({ spacing: 'dicom', pixelSpacingMm: 0.125 });
    const { labels, description } = await published(r.prefix);
    expect(labels.images.d2).toMatchObject({ sourceFormat: 'dicom', spacingMm: 0.125, spacingSource: 'dicom-PixelSpacing', labelled: false });
    expect(description).toMatchObject({ spacing: 'dicom', pixelSpacingMm: 0.125, imageFormat: 'dicom' });
  });

  it('rejects bad folders naming every file and problem, and writes nothing under datasets/', async () => {
    const { store } = stack!;
    const before = (await store.list('datasets/')).length;

    const dicom = await track(makeSiteFolder());
    await dicom.addDicom('d1', 0.125);
    await dicom.addDicom('d2');
    await dicom.write('images/d3.dcm', new Uint8Array([1, 2, 3]));
    await dicom.label('d1', sitePoints(3));
    const dicomProblems = await rejection(ingestSite(store, { dir: dicom.root, templateId: 'd1', sizes: [32] }));
    expect(dicomProblems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^images\/d2\.dcm: no pixel spacing: .*\(0028,0030\) PixelSpacing/), expect.stringMatching(/^images\/d3\.dcm: /)]),
    );

    const names = await track(makeFlatSite(4, 3));
    await names.label('002', [...sitePoints(2), { name: 'Other', x: 1, y: 1 }]);
    const nameProblems = await rejection(ingestSite(store, { dir: names.root, templateId: '001', sizes: [32] }));
    expect(nameProblems).toEqual([expect.stringMatching(/^landmarks\/002\.csv: landmark names differ from the template's .*missing "L3", unexpected "Other"/)]);

    const noTemplate = await track(makeFlatSite(3, 3));
    const missing = await rejection(ingestSite(store, { dir: noTemplate.root, templateId: '003', sizes: [32] }));
    expect(missing).toEqual([expect.stringMatching(/^landmarks: template image 003 has no landmark file/)]);

    expect((await store.list('datasets/')).length).toBe(before);
  });
});
