/** The plan's evaluation splits: requested names (a site's own when none is named), labelled ids only. */
import { describe, expect, it } from 'vitest';
import type { DatasetDescription } from '../../contracts/documents';
import { evaluationSplitNames, labelledTestSplits } from '../../activities/plan-run';

const site = { kind: 'site', testIdsCovered: { eval: ['e1'] } } as unknown as DatasetDescription;
const isbi = { kind: 'isbi2015', testIdsCovered: { test1: ['151'] } } as unknown as DatasetDescription;

describe('planRun evaluation splits', () => {
  it('takes the requested splits; a site whose splits the request does not name uses its own', () => {
    expect(evaluationSplitNames(['test1', 'test2'], { train: ['001'], test1: ['151'] }, isbi)).toEqual(['test1', 'test2']);
    expect(evaluationSplitNames(['test1', 'test2'], { train: ['t'], eval: ['e1'] }, site)).toEqual(['eval']);
    expect(evaluationSplitNames(['eval'], { train: ['t'], eval: [] }, site)).toEqual(['eval']);
  });

  it('keeps only labelled ids; a split without any is missing (a run without metrics)', () => {
    const labels = { images: { t: { labelled: true }, u: { labelled: false }, e1: { labelled: true }, e2: { labelled: false } } } as never;
    expect(labelledTestSplits(['eval'], { train: ['t', 'u'], eval: ['e1', 'e2'] }, labels)).toEqual({ testSplits: { eval: ['e1'] }, missing: [] });
    expect(labelledTestSplits(['eval', 'test1'], { train: ['t', 'u'], eval: ['e2'] }, labels)).toEqual({ testSplits: {}, missing: ['eval', 'test1'] });
  });
});
