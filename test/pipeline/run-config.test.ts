/**
 * Run config (infra/config/run-config.ts): YAML/JSON files, env and flags (later wins),
 * defaults, errors naming the field and the rule, template vs. split (docs/reliability.md#b6), config hash.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPipelineInput, checkConfigAgainstSplits, loadRunConfig, parseRunConfig } from '../../infra/config/run-config';
import { InvalidConfigError } from '../../infra/errors';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-runcfg-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidConfigError);
    return (err as Error).message;
  }
  throw new Error('accepted');
}

async function rejection(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidConfigError);
  return (err as Error).message;
}

describe('run config', () => {
  it('fills defaults (seed 2022, template 125, 2 shards, both test splits)', () => {
    const c = parseRunConfig({ dataset: { dir: '/d' } });
    expect(c).toMatchObject({ site: 'default', seed: 2022, templateId: '125', profile: 'cpu', pseudoLabelShards: 2, heartbeatTimeoutSeconds: 60 });
    expect(c.split).toEqual({ trainIds: 'all', testSplits: ['test1', 'test2'] });
    expect(parseRunConfig({ dataset: { dir: '/d' }, templateId: 7 }).templateId).toBe('007');
  });

  it('reads YAML with dataset.dir relative to the file; env and flags override it', async () => {
    const file = path.join(dir, 'site.yaml');
    await writeFile(file, 'site: site-a\ndataset:\n  dir: data/isbi\nprofile: smoke\nseed: 1\noverrides:\n  ssl: { steps: 30 }\n');
    const c = await loadRunConfig({ config: file, seed: '5' }, { CC2D_PROFILE: 'paper', CC2D_SEED: '3' });
    expect(c).toMatchObject({ site: 'site-a', profile: 'paper', seed: 5, dataset: { dir: path.join(dir, 'data/isbi') }, overrides: { ssl: { steps: 30 } } });
    const json = path.join(dir, 'c.json');
    await writeFile(json, JSON.stringify({ dataset: { version: 'abc' }, templateId: '010' }));
    expect(await loadRunConfig({ config: json }, {})).toMatchObject({ dataset: { version: 'abc' }, templateId: '010' });
    expect((await loadRunConfig({}, { ISBI_DIR: '/x/isbi' })).dataset.dir).toBe('/x/isbi');
    expect((await loadRunConfig({ set: ['pseudoLabelShards=4', 'overrides.tpl.lr=0.001'] }, {})).overrides.tpl?.lr).toBe(0.001);
  });

  it('names the field and the rule of every problem', async () => {
    expect(message(() => parseRunConfig({ dataset: { dir: '/d' }, profile: 'fast', seed: -1, temperature: 0.1 }))).toMatch(
      /config\.profile: .*\n.*config\.seed: .*>=0[\s\S]*config: Unrecognized key.*"temperature"/,
    );
    expect(message(() => parseRunConfig({ dataset: {} }))).toMatch(/config\.dataset: exactly one of dataset\.dir or dataset\.version is required/);
    expect(message(() => parseRunConfig({ dataset: { dir: '/d' }, site: 'Site A' }))).toMatch(/config\.site: must be lowercase/);
    expect(message(() => buildPipelineInput(parseRunConfig({ dataset: { dir: '/d' }, overrides: { ssl: { steps: 0 } } })))).toMatch(/config\.overrides\.ssl\.steps: /);
    expect(message(() => buildPipelineInput(parseRunConfig({ dataset: { dir: '/d' }, overrides: { inputSize: 100 } })))).toMatch(/config\.overrides\.inputSize: inputSize must be a multiple of 32/);
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'site: a\nsite: b\n');
    expect(await rejection(loadRunConfig({ config: bad }, {}))).toMatch(/config file .*bad\.yaml: .*(duplicate|unique)/i);
    expect(await rejection(loadRunConfig({ config: path.join(dir, 'missing.yaml') }, {}))).toMatch(/cannot read \(ENOENT\)/);
  });

  it('rule B6: the template is a training image and in no test split', () => {
    const splits = { train: ['001', '002', '125'], test1: ['151', '152'], test2: [] };
    const c = (o: object) => parseRunConfig({ dataset: { dir: '/d' }, ...o });
    expect(() => checkConfigAgainstSplits(c({}), splits)).not.toThrow();
    expect(message(() => checkConfigAgainstSplits(c({ templateId: '151' }), splits))).toMatch(/config\.templateId: "151" is in test split "test1".*rule B6/);
    expect(message(() => checkConfigAgainstSplits(c({ templateId: '003' }), splits))).toMatch(/config\.templateId: "003" is not in the dataset's train split/);
    expect(message(() => c({ split: { trainIds: ['001', '002'] } }))).toMatch(/config\.templateId: "125" must be one of split\.trainIds/);
    expect(message(() => checkConfigAgainstSplits(c({ split: { trainIds: ['001', '125', '999'] } }), splits))).toMatch(/config\.split\.trainIds: not in the dataset's train split: 999/);
    expect(message(() => checkConfigAgainstSplits(c({ split: { testSplits: ['test2'] } }), splits))).toMatch(/config\.split\.testSplits: none of \[test2\]/);
  });

  it('config hash: same for the same run from a folder or its dataset version; changes with the seed', () => {
    const a = buildPipelineInput(parseRunConfig({ dataset: { dir: '/d' }, profile: 'smoke' }));
    const b = buildPipelineInput(parseRunConfig({ dataset: { version: 'v1' }, profile: 'smoke', taskQueues: { gpu: 'pool-b' } }));
    const c = buildPipelineInput(parseRunConfig({ dataset: { dir: '/d' }, profile: 'smoke', seed: 7 }));
    expect(a.configHash).toMatch(/^[0-9a-f]{64}$/);
    expect(b.configHash).toBe(a.configHash);
    expect(c.configHash).not.toBe(a.configHash);
    expect(a.profile.name).toBe('smoke');
    expect(buildPipelineInput(parseRunConfig({ dataset: { dir: '/d' }, profile: 'smoke', checkpointEvery: 3 })).profile.ssl.checkpointEvery).toBe(3);
  });
});
