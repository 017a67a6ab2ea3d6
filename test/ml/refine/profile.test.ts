import { describe, expect, it } from 'vitest';
import { PROFILES, REFINE_DEFAULTS, resolveProfile } from '../../../ml/profiles';
import { buildPipelineInput, parseRunConfig } from '../../../infra/config/run-config';

describe('profile.refine', () => {
  it('is on in cpu and quick only (with the measured defaults and the round-trip filter; cpu limits the move), and overrides switch it on over them', () => {
    for (const name of Object.keys(PROFILES)) {
      if (name === 'quick') expect(resolveProfile(name).refine).toEqual({ ...REFINE_DEFAULTS, maxRoundTrip: 2 });
      else if (name === 'cpu') expect(resolveProfile(name).refine).toEqual({ ...REFINE_DEFAULTS, maxMove: 15, maxRoundTrip: 2 });
      else expect(resolveProfile(name)).not.toHaveProperty('refine');
    }
    expect(REFINE_DEFAULTS).not.toHaveProperty('maxMove');
    expect(resolveProfile('smoke', { refine: {} }).refine).toEqual(REFINE_DEFAULTS);
    expect(resolveProfile('cpu', { refine: { steps: 5, landmarkMode: 'shared' } }).refine).toEqual({ ...REFINE_DEFAULTS, maxMove: 15, maxRoundTrip: 2, steps: 5, landmarkMode: 'shared' });
    expect(() => resolveProfile('cpu', { refine: { patch: 20 } })).toThrow(/^profile\.refine\.patch: patch must be a multiple of 8/);
    // The round-trip filter can be switched off for a run (null), not set to a meaningless limit.
    expect(resolveProfile('quick', { refine: { maxRoundTrip: null } }).refine).toEqual({ ...REFINE_DEFAULTS, maxRoundTrip: null });
    expect(() => resolveProfile('quick', { refine: { maxRoundTrip: 0 } })).toThrow(/profile\.refine\.maxRoundTrip/);
  });

  it('a run config switches it on with overrides.refine; the run-level checkpoint interval applies to it too', () => {
    const base = { dataset: { dir: '/data/isbi' }, profile: 'smoke' };
    expect(buildPipelineInput(parseRunConfig(base)).profile).not.toHaveProperty('refine');
    const on = buildPipelineInput(parseRunConfig({ ...base, overrides: { refine: { steps: 7 } }, checkpointEvery: 2 }));
    expect(on.profile.refine).toEqual({ ...REFINE_DEFAULTS, steps: 7, checkpointEvery: 2 });
    expect(() => parseRunConfig({ ...base, overrides: { refine: { bogus: 1 } } })).toThrow(/refine/);
    const off = buildPipelineInput(parseRunConfig({ ...base, profile: 'quick', overrides: { refine: { maxRoundTrip: null } } }));
    expect(off.profile.refine).toMatchObject({ maxRoundTrip: null });
  });
});
