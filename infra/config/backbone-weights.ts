/**
 * Bring-your-own encoder initialisation (`cc2d run --backbone-weights FILE`): a tfjs weights
 * manifest (a `model.json` with `weightsManifest`, or the manifest array itself; float32 shards
 * next to it) holding VGG19 encoder weights named `s{stage}c{conv}/w|b`. The client checks it
 * against the run's profile, stores it once in S3 under its sha256 (`backbones/<sha>.bin`, the
 * project's checkpoint codec), and the run config carries only that reference: workers on other
 * hosts read it from S3, never from the local path. Nothing is downloaded.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { decodeCheckpoint, encodeCheckpoint } from '../../ml/core/checkpoint';
import type { NamedArray } from '../../ml/core/params';
import { checkVggBackbone } from '../../ml/core/vgg-encoder';
import type { Profile } from '../../ml/profiles';
import { InvalidConfigError } from '../errors';
import { sha256Hex } from '../storage/hash';
import type { ObjectStore } from '../storage/object-store';

export const BACKBONE_WEIGHTS_KIND = 'cc2d-vgg-backbone';

/** What a run config names: the stored backbone (content-addressed). */
export const BackboneWeightsRefSchema = z.object({
  key: z.string().regex(/^backbones\/[0-9a-f]{64}\.bin$/, 'must be backbones/<sha256>.bin'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
}).strict();
export type BackboneWeightsRef = z.infer<typeof BackboneWeightsRefSchema>;

const WeightEntrySchema = z.object({ name: z.string().min(1), shape: z.array(z.number().int().min(0)), dtype: z.string().default('float32') });
const ManifestSchema = z.array(z.object({ paths: z.array(z.string().min(1)).min(1), weights: z.array(WeightEntrySchema) }));

function problem(file: string, message: string): InvalidConfigError {
  return new InvalidConfigError(`--backbone-weights ${file}: ${message}`);
}

/** Reads a tfjs weights manifest and its shards (paths relative to the manifest, inside its folder). */
export async function readTfjsWeights(file: string): Promise<NamedArray[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw problem(file, `not a readable tfjs weights manifest (${(err as Error).message})`);
  }
  const parsed = ManifestSchema.safeParse(Array.isArray(json) ? json : (json as { weightsManifest?: unknown } | null)?.weightsManifest);
  if (!parsed.success) throw problem(file, 'expected a tfjs weights manifest (weightsManifest: [{paths, weights: [{name, shape, dtype}]}])');
  const dir = path.dirname(path.resolve(file));
  const out: NamedArray[] = [];
  for (const group of parsed.data) {
    const chunks: Uint8Array[] = [];
    for (const p of group.paths) {
      const shard = path.resolve(dir, p);
      if (path.relative(dir, shard).startsWith('..')) throw problem(file, `shard path ${p} leaves the manifest's folder`);
      try {
        chunks.push(await readFile(shard));
      } catch (err) {
        throw problem(file, `shard ${p}: ${(err as Error).message}`);
      }
    }
    const bytes = Buffer.concat(chunks);
    let offset = 0;
    for (const w of group.weights) {
      if (w.dtype !== 'float32') throw problem(file, `layer ${w.name}: dtype ${w.dtype}, only float32 is supported`);
      const n = w.shape.reduce((a, b) => a * b, 1);
      if (offset + 4 * n > bytes.length) throw problem(file, `layer ${w.name}: the shards end before its ${n} values`);
      const data = new Float32Array(n);
      new Uint8Array(data.buffer).set(bytes.subarray(offset, offset + 4 * n));
      out.push({ name: w.name, shape: w.shape, data });
      offset += 4 * n;
    }
  }
  return out;
}

export function encodeBackbone(arrays: readonly NamedArray[]): Uint8Array {
  return encodeCheckpoint({ kind: BACKBONE_WEIGHTS_KIND, step: 0, prng: [0, 0, 0, 0], params: [...arrays], optimizer: { step: 0, slots: [] }, meta: {} });
}

export function decodeBackbone(bytes: Uint8Array): NamedArray[] {
  const c = decodeCheckpoint(bytes);
  if (c.kind !== BACKBONE_WEIGHTS_KIND) throw new Error(`backbone weights: kind "${c.kind}", expected "${BACKBONE_WEIGHTS_KIND}"`);
  return c.params;
}

/**
 * Checks the file against the encoders of both stages of `profile` (a mismatch names the file
 * and the layer), then stores it once; returns the reference a run config carries.
 */
export async function stageBackboneWeights(store: ObjectStore, file: string, profile: Profile): Promise<BackboneWeightsRef> {
  const arrays = await readTfjsWeights(file);
  let checked: NamedArray[] = [];
  for (const [stage, width] of [['ssl', profile.ssl.width], ['tpl', profile.tpl.width]] as const) {
    try {
      checked = checkVggBackbone(arrays, width);
    } catch (err) {
      throw problem(file, `${(err as Error).message} (the ${stage} encoder of profile ${profile.name})`);
    }
  }
  const bytes = encodeBackbone(checked);
  const sha256 = sha256Hex(bytes);
  const key = `backbones/${sha256}.bin`;
  if (!(await store.exists(key))) await store.put(key, bytes, { contentType: 'application/octet-stream' });
  return { key, sha256 };
}
