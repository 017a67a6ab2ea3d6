/**
 * `npx cc2d ingest` end to end as a subprocess against the real S3 server, rooted at this
 * test's own key prefix (CC2D_S3_PREFIX). Skips locally without S3; fails under CI.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { requireStack } from '../support/stack';
import { cc2dCli } from './support/cc2d-cli';
import { makeFixture } from './support/fixtures';

const stack = await requireStack('dataset-ingest-cli');
afterAll(() => stack?.cleanup());

const cc2d = cc2dCli(stack?.settings.s3.prefix ?? '');

describe.skipIf(!stack)('cc2d ingest', () => {
  it('prints the version (JSON on the last line), is idempotent, and exits 2 listing every problem', async () => {
    const fx = await makeFixture();
    try {
      const first = await cc2d(['ingest', '--dataset', fx.root, '--size', '16', '--size', '24', '--json']);
      expect(first.code, first.stderr).toBe(0);
      const last = JSON.parse(first.stdout.trim().split('\n').at(-1)!) as { datasetVersion: string; reused: boolean; counts: { images: number } };
      expect(last.datasetVersion).toMatch(/^[0-9a-f]{64}$/);
      expect([last.reused, last.counts.images]).toEqual([false, 3]);
      expect(first.stdout).toContain(`dataset version ${last.datasetVersion} (published)`);
      expect(await stack!.store.exists(`datasets/${last.datasetVersion}/manifest.json`)).toBe(true);

      const second = await cc2d(['ingest', '--dataset', fx.root, '--size', '24', '--size', '16', '--json']);
      expect(JSON.parse(second.stdout.trim().split('\n').at(-1)!)).toMatchObject({ datasetVersion: last.datasetVersion, reused: true });

      await fx.write('AnnotationsByMD/400_senior/001.txt', '1,2\n');
      await fx.write('RawImage/TrainingData/002.png', '');
      const bad = await cc2d(['ingest', '--dataset', fx.root, '--size', '16']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('dataset rejected (2 problems)');
      expect(bad.stderr).toContain('AnnotationsByMD/400_senior/001.txt: wrong landmark count: 1 landmark line(s), expected 19');
      expect(bad.stderr).toContain('RawImage/TrainingData/002.png: empty image file (0 bytes)');

      const badSize = await cc2d(['ingest', '--dataset', fx.root, '--size', 'big']);
      expect(badSize.code).not.toBe(0);
      expect(badSize.stderr).toContain('--size must be a positive integer');
    } finally {
      await fx.cleanup();
    }
  });
});
