/**
 * Reads a published dataset version (./published.ts): labels, split, description (validated
 * with their schemas), and working-resolution images decoded (sharp, via decodeWorkingPng) into
 * ml's GrayImage (float32 in [0, 1]). Each image is checked against the sha256 and size the
 * version's manifest lists, so corrupt bytes never reach training (IntegrityError naming the key).
 * Retrying through S3 outages and re-reading corrupt bytes is the store's business: the
 * activities hand in a store whose calls retry while heartbeating.
 */
import type { z } from 'zod';
import { DatasetDescriptionSchema, DatasetLabelsSchema, DatasetSplitSchema, type Manifest } from '../../contracts/documents';
import type { GrayImage, PointYX } from '../../ml/types';
import { DatasetInvalidError } from '../errors';
import { NotFoundError, type ObjectStore } from '../storage/object-store';
import { readManifest, readManifestFile } from '../storage/manifest';
import { readJson } from '../storage/read-json';
import { mapLimit } from './concurrency';
import { DATASET_FILES, datasetPrefix, type DatasetDescription, type DatasetLabels, type DatasetSplit } from './published';
import { decodeWorkingPng } from './working-image';

export class DatasetReader {
  private labelsCache?: Promise<DatasetLabels>;
  private splitCache?: Promise<DatasetSplit>;
  private descriptionCache?: Promise<DatasetDescription>;
  private manifestCache?: Promise<Manifest>;

  constructor(private readonly store: ObjectStore, readonly versionId: string) {}

  private key(rel: string): string {
    return `${datasetPrefix(this.versionId)}/${rel}`;
  }

  private async json<S extends z.ZodType>(rel: string, schema: S): Promise<z.output<S>> {
    try {
      return await readJson(this.store, this.key(rel), schema);
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new DatasetInvalidError([`dataset version ${this.versionId}: ${rel} not found (is the version published?)`]);
      }
      throw err;
    }
  }

  labels(): Promise<DatasetLabels> {
    this.labelsCache ??= this.json(DATASET_FILES.labels, DatasetLabelsSchema);
    return this.labelsCache;
  }

  split(): Promise<DatasetSplit> {
    this.splitCache ??= this.json(DATASET_FILES.split, DatasetSplitSchema);
    return this.splitCache;
  }

  description(): Promise<DatasetDescription> {
    this.descriptionCache ??= this.json(DATASET_FILES.description, DatasetDescriptionSchema);
    return this.descriptionCache;
  }

  /** The version's manifest (every file's sha256 and size); NotFoundError when not published. */
  private manifest(): Promise<Manifest> {
    this.manifestCache ??= readManifest(this.store, datasetPrefix(this.versionId), { verify: 'none' }).catch((err: unknown) => {
      if (err instanceof NotFoundError) throw new DatasetInvalidError([`dataset version ${this.versionId}: manifest.json not found (is the version published?)`]);
      throw err;
    });
    return this.manifestCache;
  }

  /** Working-grid landmarks [y, x] of `id` at size `size` (paper-protocol GT, docs/method.md#preprocessing). */
  async workingLandmarks(id: string, size: number): Promise<PointYX[]> {
    const img = (await this.labels()).images[id];
    const pts = img?.workingYx?.[String(size)];
    if (!pts) throw new DatasetInvalidError([`dataset version ${this.versionId}: no ${size}px landmarks for id "${id}" (${img === undefined ? 'no such image' : img.labelled ? 'size not ingested' : 'image not labelled'})`]);
    return pts.map(([y, x]) => [y, x] as PointYX);
  }

  /**
   * The labelled template of a run (docs/method.md#matching): its S×S working image and its working-grid ground
   * truth [y, x] from labels.json. Pseudo-labelling and the SSL-stage evaluation both match from it.
   */
  async template(id: string, size: number): Promise<{ template: GrayImage; templateLandmarks: PointYX[] }> {
    const [[template], templateLandmarks] = await Promise.all([this.images(size, [id]), this.workingLandmarks(id, size)]);
    return { template: template!, templateLandmarks };
  }

  /** Decodes the S×S working images of `ids`, in order. */
  async images(size: number, ids: readonly string[], onImage?: (done: number) => void): Promise<GrayImage[]> {
    let done = 0;
    return mapLimit(ids, 4, async (id) => {
      const rel = DATASET_FILES.image(size, id);
      const key = this.key(rel);
      let bytes: Uint8Array;
      try {
        bytes = await readManifestFile(this.store, datasetPrefix(this.versionId), await this.manifest(), rel);
      } catch (err) {
        if (err instanceof NotFoundError) throw new DatasetInvalidError([`dataset version ${this.versionId}: image ${key} not found`]);
        throw err;
      }
      const image = await decodeWorkingGray(bytes, size, key);
      onImage?.(++done);
      return image;
    });
  }
}

/** A stored S×S working PNG as ml's GrayImage (intensities in [0, 1]); `key` names it in errors. */
export async function decodeWorkingGray(bytes: Uint8Array, size: number, key: string): Promise<GrayImage> {
  const grey = await decodeWorkingPng(bytes);
  if (grey.width !== size || grey.height !== size) {
    throw new DatasetInvalidError([`${key}: is ${grey.width}×${grey.height}, expected ${size}×${size}`]);
  }
  const data = new Float32Array(grey.data.length);
  for (let i = 0; i < data.length; i++) data[i] = grey.data[i]! / 255;
  return { height: size, width: size, data };
}
