import { describe, expect, it } from 'vitest';
import { PROFILES, ProfileSchema, resolveProfile } from '../../ml/profiles';

describe('profiles', () => {
  it('paper keeps the reference settings of both stages (pixel-mean heat loss, λ = 2)', () => {
    const p = PROFILES.paper;
    expect(p.inputSize).toBe(384);
    expect(p.ssl).toMatchObject({ width: 1, embedDim: 16, batchSize: 8, lr: 1e-3, temperature: 0.1, window: 19 });
    expect(p.tpl).toMatchObject({ width: 1, batchPseudo: 3, lr: 3e-4, heatLossWeight: 2, heatLossNorm: 'pixels', radiusFraction: 0.05 });
  });

  it('cpu normalises the heat loss by the disk pixels and cuts the TPL lr once, at 2/3 of its steps', () => {
    const t = PROFILES.cpu.tpl;
    expect(t.heatLossNorm).toBe('positives');
    expect(t.lrDecaySteps).toHaveLength(1);
    expect(t.lrDecaySteps[0]! / t.steps).toBeCloseTo(2 / 3, 2);
  });

  it('quick is the cpu profile with fewer steps, the SSL lr halved every 35 % of its run', () => {
    const { quick, cpu } = PROFILES;
    expect(quick.inputSize).toBe(cpu.inputSize);
    // Same network and training; matching without prototypes (the README's quick numbers predate them).
    expect({ ...quick.ssl, steps: 0, lrStepEvery: 0, checkpointEvery: 0, prototypeRounds: 0 }).toEqual({ ...cpu.ssl, steps: 0, lrStepEvery: 0, checkpointEvery: 0, prototypeRounds: 0 });
    expect([quick.ssl.prototypeRounds, cpu.ssl.prototypeRounds]).toEqual([0, 2]);
    expect(quick.ssl.steps).toBeLessThan(cpu.ssl.steps);
    // The 4000-step cpu schedule scaled down; cpu has since trained on with the same lrStepEvery
    // (a longer run continues the shorter one: docs/operating-pipeline.md#stage-cache-reuse-across-runs).
    expect(quick.ssl.lrStepEvery / quick.ssl.steps).toBeCloseTo(1_400 / 4_000, 2);
    expect(cpu.ssl.lrStepEvery).toBe(1_400);
    expect(quick.tpl.lrDecaySteps[0]! / quick.tpl.steps).toBeCloseTo(2 / 3, 2);
    expect(quick.tpl.heatLossNorm).toBe('positives');
  });

  it('a stored profile from before prototype matching existed still parses, with none', () => {
    const { prototypeRounds: _r, prototypeFromLevel: _l, ...oldSsl } = PROFILES.cpu.ssl;
    const parsed = ProfileSchema.parse({ ...PROFILES.cpu, ssl: oldSsl });
    expect([parsed.ssl.prototypeRounds, parsed.ssl.prototypeFromLevel]).toEqual([0, 2]);
  });

  it('a stored profile from before heatLossNorm existed still parses, as the reference pixel mean', () => {
    const { heatLossNorm: _dropped, ...oldTpl } = PROFILES.cpu.tpl;
    const parsed = ProfileSchema.parse({ ...PROFILES.cpu, tpl: oldTpl });
    expect(parsed.tpl.heatLossNorm).toBe('pixels');
  });

  it('overrides field by field and names the bad field', () => {
    expect(resolveProfile('cpu', { tpl: { heatLossNorm: 'pixels' } }).tpl).toMatchObject({ heatLossNorm: 'pixels', steps: PROFILES.cpu.tpl.steps });
    expect(() => resolveProfile('cpu', { tpl: { heatLossNorm: 'mean' as never } })).toThrow(/profile\.tpl\.heatLossNorm/);
    expect(() => resolveProfile('cpu', { inputSize: 100 })).toThrow(/profile\.inputSize: inputSize must be a multiple of 32/);
    expect(() => resolveProfile('gpu')).toThrow(/unknown profile "gpu"/);
  });
});
