import { describe, expect, it } from 'vitest';
import { buildRunReportInput, writeRunReportHtml } from '../../infra/report';
import { RecordingMemoryStore } from '../dataset/support/memory-store';
import { syntheticErrors, syntheticPoints, syntheticRadiograph, syntheticReportInput } from './fixture';

describe('buildRunReportInput', () => {
  it('picks best/median/worst on the widest set, fetches only those images, drops bad loss logs, stores report.html', async () => {
    const base = await syntheticReportInput();
    const t1 = syntheticErrors(20, 151, 2.5, 1);
    const t2 = syntheticErrors(10, 301, 3.5, 2);
    const ids = [...t1, ...t2].map((i) => i.id);
    const pts = Object.fromEntries(ids.map((id, i) => [id, syntheticPoints(i, 3)]));
    const loaded: string[] = [];
    const warnings: string[] = [];
    const input = await buildRunReportInput({
      runId: 'r1',
      createdAt: '2026-11-27T00:00:00Z',
      lineage: base.lineage,
      errors: [
        { protocol: 'A', sets: { test1: t1, test2: t2 } },
        { protocol: 'B', sets: { test1: t1, test2: [] } },
      ],
      gridSize: 384,
      predictionsYx: Object.fromEntries(ids.map((id) => [id, pts[id]!.predictedYx])),
      truthYx: Object.fromEntries(ids.map((id) => [id, pts[id]!.truthYx])),
      displayAspect: () => 1935 / 2400,
      loadImage: async (id) => {
        loaded.push(id);
        return syntheticRadiograph(64, Number(id));
      },
      losses: { ssl: { stage: 'ssl', points: [{ step: 1, loss: 2 }] }, tpl: { stage: 'tpl', points: 'nope' } },
      warn: (m) => warnings.push(m),
    });
    const mre = (id: string) => {
      const e = [...t1, ...t2].find((i) => i.id === id)!.errorsMm;
      return e.reduce((s, v) => s + v, 0) / e.length;
    };
    const all = [...t1, ...t2].map((i) => mre(i.id)).sort((a, b) => a - b);
    expect(loaded).toHaveLength(3);
    expect(input.overlays!.map((o) => o.case)).toEqual(['best', 'median', 'worst']);
    expect(mre(input.overlays![0]!.id)).toBe(all[0]);
    expect(mre(input.overlays![2]!.id)).toBe(all[all.length - 1]);
    for (const o of input.overlays!) expect(o.split).toBe(Number(o.id) >= 301 ? 'test2' : 'test1');
    expect(input.losses!.ssl?.points).toHaveLength(1);
    expect(input.losses!.tpl).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/tpl loss log ignored/);
    // Empty sets are dropped (protocol B has Test1 only).
    expect(input.metrics.find((p) => p.protocol === 'B')!.sets.map((s) => s.split)).toEqual(['test1']);

    const store = new RecordingMemoryStore();
    const put = await writeRunReportHtml(store, 'runs/r1', input);
    expect(put.key).toBe('runs/r1/report/report.html');
    const stored = new TextDecoder().decode(await store.get(put.key));
    expect(stored).toBe(put.html);
    expect(stored).toContain('Test1+Test2');
  });
});
