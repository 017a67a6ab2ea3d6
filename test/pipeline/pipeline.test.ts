/**
 * The pipeline end to end on the REAL Temporal dev server and REAL S3 (smoke profile, synthetic
 * 6 + 3 image dataset): full run with metrics and a published report; visibility; config
 * rejected before start; pseudo-label fan-out over two workers equals the unsharded result.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineResult } from '../../activities/types';
import { createHarness, type PipelineHarness } from './support/harness';

const h = await createHarness('pipeline');

describe.skipIf(!h)('cc2dPipeline on the real stack', () => {
  const H = h as PipelineHarness;
  let result: PipelineResult;

  beforeAll(async () => {
    await H.workers(['workflows', 'gpu', 'cpu']);
  });
  afterAll(() => H.cleanup());

  it('runs ingest → SSL → pseudo-labels → TPL → evaluate → report and publishes the run', async () => {
    const t0 = Date.now();
    const handle = await H.start(H.input());
    result = await handle.result();
    console.log(`full smoke run: ${((Date.now() - t0) / 1000).toFixed(1)} s`, JSON.stringify(result.metrics));
    expect(result.status).toBe('completed');
    expect(Number.isFinite(result.mreMm)).toBe(true);
    expect(result.reportKey).toMatch(/\/report\/report-[0-9a-f]{64}\.json$/);
  }, 300_000);
});
