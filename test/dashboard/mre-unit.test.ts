/** The dashboard's and `runs list`'s MRE: its unit from the workflow memo, mm from Cc2dMre, "–" without metrics. */
import { TypedSearchAttributes } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTES as SA } from '../../infra/config/names';
import { renderRow } from '../../infra/dashboard/page';
import { headlineOf, latestExecutions, type RunRow } from '../../infra/dashboard/sources';

const row = (over: Partial<RunRow>): RunRow => ({ runId: 'r', status: 'completed', startTime: '2026-01-01T00:00:00.000Z', ...over });
const mreCell = (html: string) => /<td class="num mre"([^>]*)>([^<]*)<\/td>/.exec(html)!;

describe('MRE unit', () => {
  it('headlineOf: the memo (px or mm) first, else Cc2dMre in mm, else nothing', () => {
    const sa = (mre?: number) => new TypedSearchAttributes(mre === undefined ? [] : [{ key: SA.mre, value: mre }]);
    expect(headlineOf({ memo: { mre: 12.5, mreUnit: 'px' }, typedSearchAttributes: sa() })).toEqual({ mre: 12.5, unit: 'px' });
    expect(headlineOf({ memo: undefined, typedSearchAttributes: sa(2.25) })).toEqual({ mre: 2.25, unit: 'mm' });
    expect(headlineOf({ memo: {}, typedSearchAttributes: sa() })).toBeUndefined();
  });

  it('renders "x.xx mm", "x.xx px" or "–" (no metrics, with the reason as a tooltip)', () => {
    expect(mreCell(renderRow(row({ mreMm: 2.345, mreUnit: 'mm' })))[2]).toBe('2.35 mm');
    const px = mreCell(renderRow(row({ mreMm: 12.3, mreUnit: 'px' })));
    expect(px[2]).toBe('12.30 px');
    expect(px[1]).toContain('no pixel spacing');
    const none = mreCell(renderRow(row({})));
    expect(none[2]).toBe('–');
    expect(none[1]).toContain('no metrics: no labelled evaluation images');
  });
});

describe('latestExecutions', () => {
  it('one row per run id: the running execution, else the one closed last (a resumed run and its earlier execution)', () => {
    const rows = [
      { runId: 'a', closeTime: '2026-12-03T10:00:00Z', status: 'completed' },
      { runId: 'b', closeTime: null, status: 'running' },
      { runId: 'a', closeTime: '2026-12-03T09:00:00Z', status: 'cancelled' },
      { runId: 'b', closeTime: '2026-12-03T08:00:00Z', status: 'failed' },
    ];
    expect(latestExecutions(rows).map((r) => `${r.runId}:${r.status}`)).toEqual(['a:completed', 'b:running']);
  });
});
