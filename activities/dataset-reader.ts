/**
 * Reads a published dataset version (infra/dataset/published.ts) for the activities: labels,
 * split, description, and working-resolution images decoded (sharp, via the ingest helper's
 * decodeWorkingPng) into ml's GrayImage (float32 in [0, 1]). All reads ride out short S3 outages.
 */
import type { GrayImage, PointYX } from '../ml/types';
import type { ObjectStore } from '../infra/storage/object-store';
import { NotFoundError } from '../infra/storage/object-store';
import { DatasetInvalidError } from '../infra/errors';
import { DATASET_FILES, datasetPrefix, type DatasetDescription, type DatasetLabels, type DatasetSplit } from '../infra/dataset/published';
import { decodeWorkingPng } from '../infra/dataset/working-image';
import { mapLimit } from '../infra/dataset/concurrency';
import { withStorageRetry } from './failures';

const dec = new TextDecoder();

export class DatasetReader {
  private labelsCache?: Promise<DatasetLabels>;
  private splitCache?: Promise<DatasetSplit>;
  private descriptionCache?: Promise<DatasetDescription>;

  constructor(private readonly store: ObjectStore, readonly versionId: string) {}

  private key(rel: string): string {
    return `${datasetPrefix(this.versionId)}/${rel}`;
  }

  private async json<T>(rel: string): Promise<T> {
    const key = this.key(rel);
    try {
      return JSON.parse(dec.decode(await withStorageRetry(`get ${key}`, () => this.store.get(key)))) as T;
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new DatasetInvalidError([`dataset version ${this.versionId}: ${rel} not found (is the version published?)`]);
      }
      throw err;
    }
  }

  labels(): Promise<DatasetLabels> {
    this.labelsCache ??= this.json<DatasetLabels>(DATASET_FILES.labels);
    return this.labelsCache;
  }

  split(): Promise<DatasetSplit> {
    this.splitCache ??= this.json<DatasetSplit>(DATASET_FILES.split);
    return this.splitCache;
  }

  description(): Promise<DatasetDescription> {
    this.descriptionCache ??= this.json<DatasetDescription>(DATASET_FILES.description);
    return this.descriptionCache;
  }

  /** Working-grid landmarks [y, x] of `id` at size `size` (paper-protocol GT, spec §1.5). */
  async workingLandmarks(id: string, size: number): Promise<PointYX[]> {
    const img = (await this.labels()).images[id];
    const pts = img?.workingYx[String(size)];
    if (!pts) throw new DatasetInvalidError([`dataset version ${this.versionId}: no ${size}px landmarks for id "${id}"`]);
    return pts.map(([y, x]) => [y, x] as PointYX);
  }

  /**
   * The labelled template of a run (spec §3): its S×S working image and its working-grid ground
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
      const key = this.key(DATASET_FILES.image(size, id));
      let bytes: Uint8Array;
      try {
        bytes = await withStorageRetry(`get ${key}`, () => this.store.get(key));
      } catch (err) {
        if (err instanceof NotFoundError) throw new DatasetInvalidError([`dataset version ${this.versionId}: image ${key} not found`]);
        throw err;
      }
      const grey = await decodeWorkingPng(bytes);
      if (grey.width !== size || grey.height !== size) {
        throw new DatasetInvalidError([`${key}: is ${grey.width}×${grey.height}, expected ${size}×${size}`]);
      }
      const data = new Float32Array(grey.data.length);
      for (let i = 0; i < data.length; i++) data[i] = grey.data[i]! / 255;
      onImage?.(++done);
      return { height: size, width: size, data };
    });
  }
}
