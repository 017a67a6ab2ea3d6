import { describe, expect, it } from 'vitest';
import { decidePromotion, type ScoredRun } from '../../infra/models/gate';

const run = (runId: string, errors: Record<string, number[]>, unit: 'mm' | 'px' = 'mm'): ScoredRun => ({ runId, unit, errorsById: new Map(Object.entries(errors)) });

describe('promotion gate', () => {
  it('never promotes a run without metrics', () => {
    expect(decidePromotion({ candidate: undefined }).outcome).toBe('skipped');
    expect(decidePromotion({ candidate: run('a', {}), champion: run('c', { x: [1] }) })).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/no metrics/) });
  });

  it('promotes the first champion, unless the site minimum is not met', () => {
    expect(decidePromotion({ candidate: run('a', { x: [2, 4] }) })).toMatchObject({ outcome: 'promoted', candidateMre: 3, comparedImages: 1 });
    expect(decidePromotion({ candidate: run('a', { x: [2, 4] }), minMre: 3 }).outcome).toBe('promoted');
    const kept = decidePromotion({ candidate: run('a', { x: [2, 4] }), minMre: 2.5 });
    expect(kept).toMatchObject({ outcome: 'kept', candidateMre: 3 });
    expect(kept.reason).toMatch(/does not meet the site's minimum 2\.500 mm/);
  });

  it('compares with the champion on the images both scored only', () => {
    // On the common images x, y: candidate 2, champion 3; z (only the candidate's, very bad) does not count.
    const d = decidePromotion({ candidate: run('new', { x: [1, 3], y: [2, 2], z: [50, 50] }), champion: run('old', { x: [3, 3], y: [3, 3], w: [0, 0] }) });
    expect(d).toMatchObject({ outcome: 'promoted', candidateMre: 2, championMre: 3, comparedImages: 2 });
    expect(d.reason).toMatch(/beats champion old on the same 2 evaluation image\(s\), protocol A/);
  });

  it('keeps a worse or equal run, and one that is not comparable', () => {
    expect(decidePromotion({ candidate: run('new', { x: [4] }), champion: run('old', { x: [3] }) })).toMatchObject({ outcome: 'kept', reason: expect.stringMatching(/does not beat champion old/) });
    expect(decidePromotion({ candidate: run('new', { x: [3] }), champion: run('old', { x: [3] }) }).outcome).toBe('kept');
    expect(decidePromotion({ candidate: run('new', { x: [1] }), champion: run('old', { y: [3] }) }).reason).toMatch(/no evaluation image scored by both/);
    expect(decidePromotion({ candidate: run('new', { x: [1] }, 'px'), champion: run('old', { x: [3] }) }).reason).toMatch(/in mm, the run's in px/);
    expect(decidePromotion({ candidate: run('new', { x: [1] }), champion: run('old', { x: [3, 3] }) }).reason).toMatch(/different landmark count/);
  });

  it('a champion whose MRE is not finite is beaten by a finite one', () => {
    expect(decidePromotion({ candidate: run('new', { x: [1] }), champion: run('old', { x: [Number.NaN] }) }).outcome).toBe('promoted');
    expect(decidePromotion({ candidate: run('new', { x: [Number.NaN] }), champion: run('old', { x: [1] }) }).outcome).toBe('kept');
  });
});
