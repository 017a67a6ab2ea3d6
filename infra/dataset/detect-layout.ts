/**
 * Which importer a dataset folder needs: a site folder has `images/`, the ISBI 2015 layout has
 * `RawImage/`. Undefined when it has neither (or cannot be read): the caller keeps its default and
 * the importer reports what is missing.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { DatasetLayout } from '../config/run-config';
import { IMAGES_DIR } from './site/scan';

const ISBI_IMAGES_DIR = 'RawImage';

export async function detectDatasetLayout(dir: string): Promise<DatasetLayout | undefined> {
  const isDir = (name: string): Promise<boolean> =>
    stat(path.join(dir, name)).then(
      (s) => s.isDirectory(),
      () => false,
    );
  if (await isDir(IMAGES_DIR)) return 'site';
  if (await isDir(ISBI_IMAGES_DIR)) return 'isbi';
  return undefined;
}
