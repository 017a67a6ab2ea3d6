/**
 * Checkpoint bytes: weights + optimizer state + PRNG state + step + small JSON metadata.
 * Layout: "CC2DCKP1" | uint32 LE header length | UTF-8 JSON header | float32 LE payload.
 * The header lists each array's name, shape and offset, so loading checks every shape.
 */
import type { NamedArray } from './params';
import type { PrngState } from './prng';

export interface CheckpointContent {
  kind: string;
  step: number;
  prng: PrngState;
  params: NamedArray[];
  optimizer: { step: number; slots: NamedArray[] };
  meta: Record<string, unknown>;
}

const MAGIC = 'CC2DCKP1';

interface Entry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export function encodeCheckpoint(c: CheckpointContent): Uint8Array {
  const all: Array<{ group: 'p' | 'o'; a: NamedArray }> = [
    ...c.params.map((a) => ({ group: 'p' as const, a })),
    ...c.optimizer.slots.map((a) => ({ group: 'o' as const, a })),
  ];
  let offset = 0;
  const entries: Array<Entry & { group: 'p' | 'o' }> = all.map(({ group, a }) => {
    const e = { group, name: a.name, shape: a.shape, offset, length: a.data.length };
    offset += a.data.length;
    return e;
  });
  const header = new TextEncoder().encode(JSON.stringify({
    kind: c.kind, step: c.step, prng: c.prng, optimizerStep: c.optimizer.step, meta: c.meta, entries,
  }));
  const headerPadded = Math.ceil((MAGIC.length + 4 + header.length) / 4) * 4;
  const out = new Uint8Array(headerPadded + offset * 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.length, true);
  out.set(header, MAGIC.length + 4);
  const payload = new Float32Array(out.buffer, headerPadded, offset);
  all.forEach(({ a }, i) => payload.set(a.data, entries[i]!.offset));
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array): CheckpointContent {
  const magic = new TextDecoder().decode(bytes.subarray(0, MAGIC.length));
  if (magic !== MAGIC) throw new Error('not a cc2d checkpoint (bad magic)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getUint32(MAGIC.length, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + hlen))) as {
    kind: string; step: number; prng: PrngState; optimizerStep: number; meta: Record<string, unknown>;
    entries: Array<Entry & { group: 'p' | 'o' }>;
  };
  const start = Math.ceil((MAGIC.length + 4 + hlen) / 4) * 4;
  const total = header.entries.reduce((n, e) => n + e.length, 0);
  if (bytes.byteLength !== start + total * 4) throw new Error(`checkpoint truncated: ${bytes.byteLength} bytes, expected ${start + total * 4}`);
  // Copy to an aligned buffer: the input may sit at any byte offset.
  const payload = new Float32Array(bytes.slice(start).buffer);
  const params: NamedArray[] = [];
  const slots: NamedArray[] = [];
  for (const e of header.entries) {
    const a = { name: e.name, shape: e.shape, data: payload.slice(e.offset, e.offset + e.length) };
    (e.group === 'p' ? params : slots).push(a);
  }
  return { kind: header.kind, step: header.step, prng: header.prng, params, optimizer: { step: header.optimizerStep, slots }, meta: header.meta };
}
