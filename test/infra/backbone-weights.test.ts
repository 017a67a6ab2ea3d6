/**
 * `--backbone-weights`: a tfjs-format fixture (weights manifest + two shards) built here with the
 * smoke profile's VGG encoder shapes is read, checked, stored once under its sha256 and loaded
 * into the SSL and TPL encoders; a mis-shaped, unknown or missing layer is refused naming the
 * file and the layer; the stage cache keys change with the weights and only with them.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBackbone, readTfjsWeights, stageBackboneWeights } from '../../infra/config/backbone-weights';
import { parseRunConfig } from '../../infra/config/run-config';
import { stageCacheKey, type StageKeyInput } from '../../infra/cache/stage-keys';
import { InvalidConfigError } from '../../infra/errors';
import { decodeCheckpoint } from '../../ml/core/checkpoint';
import { Prng } from '../../ml/core/prng';
import { vggEncoderShapes } from '../../ml/core/vgg-encoder';
import { PROFILES } from '../../ml/profiles';
import { createTplTrainer } from '../../ml/tpl';
import type { GrayImage } from '../../ml/types';
import { RecordingMemoryStore } from '../dataset/support/memory-store';

const profile = PROFILES.smoke;
let dir: string;

/** Writes a tfjs weights manifest with the encoder split over two shards; `edit` may change the entry list. */
async function writeFixture(name: string, edit: (w: Array<{ name: string; shape: number[] }>) => void = () => undefined): Promise<string> {
  const weights = [...vggEncoderShapes(3, profile.ssl.width)].map(([n, shape]) => ({ name: n, shape }));
  edit(weights);
  const prng = Prng.fromSeed(3);
  const values = weights.map((w) => Float32Array.from({ length: w.shape.reduce((a, b) => a * b, 1) }, () => prng.normal() * 0.1));
  const all = new Uint8Array(values.reduce((a, v) => a + v.byteLength, 0));
  let o = 0;
  for (const v of values) { all.set(new Uint8Array(v.buffer), o); o += v.byteLength; }
  const half = Math.floor(all.length / 2);
  await writeFile(path.join(dir, `${name}.1.bin`), all.subarray(0, half));
  await writeFile(path.join(dir, `${name}.2.bin`), all.subarray(half));
  const manifest = path.join(dir, `${name}.json`);
  await writeFile(manifest, JSON.stringify({ format: 'weights', weightsManifest: [{ paths: [`${name}.1.bin`, `${name}.2.bin`], weights: weights.map((w) => ({ ...w, dtype: 'float32' })) }] }));
  return manifest;
}

beforeAll(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-backbone-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('backbone weights (tfjs format)', () => {
  it('reads, checks (folding the RGB first kernel), stores once under its sha256', async () => {
    const file = await writeFixture('good');
    const raw = await readTfjsWeights(file);
    expect(raw.find((a) => a.name === 's0c0/w')!.shape).toEqual([3, 3, 3, 4]);
    const store = new RecordingMemoryStore();
    const ref = await stageBackboneWeights(store, file, profile);
    expect(ref.key).toBe(`backbones/${ref.sha256}.bin`);
    expect(await stageBackboneWeights(store, file, profile)).toEqual(ref);
    expect(store.puts).toEqual([ref.key]);
    const arrays = decodeBackbone(await store.get(ref.key, ref.sha256));
    expect(arrays.find((a) => a.name === 's0c0/w')!.shape).toEqual([3, 3, 1, 4]);
    expect(arrays).toHaveLength(vggEncoderShapes(1, profile.ssl.width).size);
    const config = parseRunConfig({ dataset: { dir }, profile: 'smoke', backboneWeights: ref });
    expect(config.backboneWeights).toEqual(ref);
    expect(() => parseRunConfig({ dataset: { dir }, profile: 'smoke', backboneWeights: { key: '/etc/passwd', sha256: ref.sha256 } })).toThrow(/backboneWeights\.key/);
  });

  it('a mismatch names the file and the layer', async () => {
    const store = new RecordingMemoryStore();
    const bad = await writeFixture('bad-shape', (w) => { w.find((x) => x.name === 's2c1/w')!.shape = [3, 3, 8, 8]; });
    await expect(stageBackboneWeights(store, bad, profile)).rejects.toThrow(InvalidConfigError);
    await expect(stageBackboneWeights(store, bad, profile)).rejects.toThrow(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: backbone weight s2c1/w: shape 3x3x8x8 != 3x3x16x16`));
    const unknown = await writeFixture('unknown', (w) => { w.push({ name: 'fc6/w', shape: [2] }); });
    await expect(stageBackboneWeights(store, unknown, profile)).rejects.toThrow(/unknown\.json: backbone weights have fc6\/w/);
    const missing = await writeFixture('missing', (w) => { w.splice(w.findIndex((x) => x.name === 's4c3/b'), 1); });
    await expect(stageBackboneWeights(store, missing, profile)).rejects.toThrow(/missing\.json: backbone weights lack s4c3\/b/);
    await expect(stageBackboneWeights(store, path.join(dir, 'nope.json'), profile)).rejects.toThrow(/nope\.json: not a readable tfjs weights manifest/);
    expect(store.puts).toEqual([]);
  });

  it('initialises the TPL encoder on a fresh start', async () => {
    const arrays = decodeBackbone((await (async () => { const s = new RecordingMemoryStore(); const r = await stageBackboneWeights(s, await writeFixture('tpl'), profile); return s.get(r.key); })()));
    const S = profile.inputSize;
    const img: GrayImage = { height: S, width: S, data: new Float32Array(S * S).fill(0.5) };
    const t = await createTplTrainer({ profile, images: [img], pseudoLabels: [[[10, 10]]], template: img, templateLandmarks: [[10, 10]], seed: 1, backboneWeights: arrays });
    const params = new Map(decodeCheckpoint(await t.exportWeights()).params.map((a) => [a.name, a.data]));
    t.dispose();
    for (const a of arrays) expect(Array.from(params.get(`enc/${a.name}`)!)).toEqual(Array.from(a.data));
    await expect(createTplTrainer({ profile, images: [img], pseudoLabels: [[[10, 10]]], template: img, templateLandmarks: [[10, 10]], seed: 1, backboneWeights: arrays.slice(1) })).rejects.toThrow(/backbone weights lack s0c0\/w/);
  });

  it('stage keys of SSL and TPL include the weights\' sha256 only when given', () => {
    const input: StageKeyInput = { datasetVersion: 'v', profile, seed: 1, trainIds: ['a'], templateId: 'a', shardCount: 1, trainImagesSha256: 'i', sslWeightsSha256: 's', pseudoLabelSha256s: ['p'] };
    for (const stage of ['ssl', 'tpl'] as const) {
      expect(stageCacheKey(stage, { ...input, backboneWeightsSha256: 'x' })).not.toBe(stageCacheKey(stage, input));
      expect(stageCacheKey(stage, { ...input, backboneWeightsSha256: 'x' })).not.toBe(stageCacheKey(stage, { ...input, backboneWeightsSha256: 'y' }));
    }
    expect(stageCacheKey('pseudo-labels', { ...input, backboneWeightsSha256: 'x' })).toBe(stageCacheKey('pseudo-labels', input));
  });
});
