// What `cc2d run`, `rerun` and `status` print for a finished run and for a waiting one.
import { describe, expect, it } from 'vitest';
import type { PipelineResult } from '../../contracts/types';
import { formatResult, workerCommand } from '../../cli/format';

const result = (over: Partial<PipelineResult>): PipelineResult => ({
  runId: 'run-b', status: 'completed', datasetVersion: 'v'.repeat(64), datasetReused: true, configHash: 'c', mreMm: 2.5, headlineSet: 'test1',
  metrics: {}, reportKey: 'runs/run-b/report/report-x.json', manifestKey: 'runs/run-b/manifest.json',
  artifacts: {} as PipelineResult['artifacts'], ...over,
});

describe('formatResult', () => {
  it('says which stages came from the stage cache, and from which run (a rerun that trained nothing said nothing)', () => {
    const text = formatResult(result({ reusedFrom: { ssl: 'run-a', 'pseudo-labels': 'run-a', tpl: 'run-c' } }));
    expect(text).toContain('reused  ssl, pseudo-labels from run run-a; tpl from run run-c (stage cache; --no-cache trains them)');
    expect(formatResult(result({ sslContinuedFrom: { runId: 'run-a', step: 4000 } }))).toContain("SSL continued from run run-a's step-4000 weights");
    expect(formatResult(result({}))).not.toMatch(/reused {2}/);
  });
});

describe('workerCommand', () => {
  it('names the queue when it is not the default, and lets a GPU worker run on a CPU-only machine', () => {
    expect(workerCommand('cpu', 'cc2d-cpu', 'cc2d-cpu')).toBe('npx cc2d worker --queues cpu');
    expect(workerCommand('gpu', 'site-a gpu', 'cc2d-gpu')).toBe("npx cc2d worker --queues gpu --allow-cpu --gpu-queue 'site-a gpu'");
  });
});
