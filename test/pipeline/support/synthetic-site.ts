/**
 * TEST-ONLY: a synthetic SITE dataset published straight to S3 as a v2 dataset version (the
 * documents of contracts/documents.ts plus working PNGs, through publishWithManifest like the
 * importers), so pipeline tests of the consumers do not depend on a site importer. K named
 * landmarks (the synthetic picture's 19 marks, then midpoints between them), split `train` =
 * unlabelled images + the labelled template, `eval` = labelled non-template images; one fixed
 * spacing for every image, or none (metrics then in pixels).
 */
import type { DatasetDescription, DatasetLabels, DatasetSplit, ImageLabels } from '../../../contracts/documents';
import { toWorkingYx } from '../../../infra/dataset/ground-truth';
import { DATASET_FILES, datasetPrefix } from '../../../infra/dataset/published';
import { INGEST_FORMAT_VERSION } from '../../../infra/dataset/types';
import { decodeWorkingPng, makeWorkingPng } from '../../../infra/dataset/working-image';
import { sha256Hex } from '../../../infra/storage/hash';
import { publishWithManifest, type PublishFile } from '../../../infra/storage/manifest';
import type { ObjectStore } from '../../../infra/storage/object-store';
import { SYN_H, SYN_W, syntheticImage } from './synthetic-isbi';

export interface SyntheticSiteOptions {
  landmarkNames: string[];
  /** Images besides the template and the evaluation images (unlabelled). */
  unlabelled: number;
  /** Labelled non-template images (the `eval` split); 0 = a site annotated on its template only. */
  labelledEval: number;
  /** One spacing for every image, or null (unknown: metrics in px). */
  spacingMm: number | null;
  sizes: number[];
  seed?: number;
}

export interface SyntheticSite {
  datasetVersion: string;
  templateId: string;
  trainIds: string[];
  evalIds: string[];
}

/** K points of a synthetic image: its 19 marks, then midpoints of consecutive marks. */
function pointsFor(marks: ReadonlyArray<[number, number]>, k: number): Array<[number, number]> {
  return Array.from({ length: k }, (_, i): [number, number] => {
    if (i < marks.length) return marks[i]!;
    const a = marks[i % marks.length]!;
    const b = marks[(i + 1) % marks.length]!;
    return [Math.round((a[0] + b[0]) / 2) + 0.5, Math.round((a[1] + b[1]) / 2) + 0.5];
  });
}

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

export async function publishSyntheticSite(store: ObjectStore, opts: SyntheticSiteOptions): Promise<SyntheticSite> {
  const k = opts.landmarkNames.length;
  const templateId = 'tpl-0';
  const unlabelledIds = Array.from({ length: opts.unlabelled }, (_, i) => `scan-${String(i + 1).padStart(2, '0')}`);
  const evalIds = Array.from({ length: opts.labelledEval }, (_, i) => `eval-${String(i + 1).padStart(2, '0')}`);
  const trainIds = [templateId, ...unlabelledIds];
  const ids = [...trainIds, ...evalIds];
  const images: Record<string, ImageLabels> = {};
  const files: PublishFile[] = [];
  for (const [i, id] of ids.entries()) {
    const img = await syntheticImage((opts.seed ?? 7) * 1000 + i + 1);
    const grey = await decodeWorkingPng(img.png);
    for (const size of opts.sizes) files.push({ relKey: DATASET_FILES.image(size, id), bytes: await makeWorkingPng(grey, size), contentType: 'image/png' });
    const labelled = id === templateId || evalIds.includes(id);
    const pts = pointsFor(img.landmarksXy, k);
    const trunc = pts.map(([x, y]): [number, number] => [Math.floor(x), Math.floor(y)]);
    images[id] = {
      split: evalIds.includes(id) ? 'eval' : 'train',
      widthPx: SYN_W,
      heightPx: SYN_H,
      sourceFormat: 'png',
      sourceSha256: sha256Hex(img.png),
      spacingMm: opts.spacingMm,
      spacingSource: opts.spacingMm === null ? null : 'fixed',
      labelled,
      ...(labelled
        ? { gtTruncXyPx: trunc, gtMeanXyPx: pts, workingYx: Object.fromEntries(opts.sizes.map((s) => [String(s), toWorkingYx(trunc, SYN_W, SYN_H, s)])) }
        : {}),
    };
  }
  const labels: DatasetLabels = { format: 'cc2d-labels-v2', landmarkCount: k, landmarkNames: opts.landmarkNames, ids, images };
  const split: DatasetSplit = { train: trainIds, eval: evalIds };
  const datasetVersion = sha256Hex(json({ labels, sizes: opts.sizes, test: 'synthetic-site' }));
  const description: DatasetDescription = {
    format: INGEST_FORMAT_VERSION,
    datasetVersion,
    kind: 'site',
    name: 'synthetic site',
    landmarkNames: opts.landmarkNames,
    landmarkCount: k,
    pixelSpacingMm: opts.spacingMm,
    spacing: opts.spacingMm === null ? 'unknown' : 'fixed',
    sizes: opts.sizes,
    counts: { images: ids.length, labelled: 1 + evalIds.length, train: trainIds.length, eval: evalIds.length },
    splits: ['train', 'eval'],
    testIdsCovered: { eval: evalIds },
    templateId,
    imageFormat: 'png',
    imageFormats: { png: ids.length },
    originalSizes: [{ widthPx: SYN_W, heightPx: SYN_H, images: ids.length }],
    groundTruth: { paper: 'floor of the annotated point', clean: 'the annotated point' },
    resize: 'Pillow-exact anti-aliased bilinear',
    workingImage: '8-bit greyscale PNG, S×S',
    source: { layout: 'synthetic site (test)', description: 'published by test/pipeline/support/synthetic-site.ts', files: ids.length },
    warnings: [],
  };
  files.push(
    { relKey: DATASET_FILES.labels, bytes: json(labels) },
    { relKey: DATASET_FILES.split, bytes: json(split) },
    { relKey: DATASET_FILES.description, bytes: json(description) },
  );
  await publishWithManifest(store, datasetPrefix(datasetVersion), files, { kind: 'dataset', datasetVersion, format: INGEST_FORMAT_VERSION, sizes: opts.sizes });
  return { datasetVersion, templateId, trainIds, evalIds };
}
