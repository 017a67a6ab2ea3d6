/**
 * The one sha256 and the one canonical JSON of the project: content addresses (artifact keys,
 * dataset version ids), config hashes, training fingerprints and manifest bytes all go through
 * these, so the same value always gives the same bytes and the same hash.
 */
import { createHash } from 'node:crypto';

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * JSON with object keys sorted (by UTF-16 code units) at every level: equal values give equal
 * bytes. Otherwise JSON.stringify's rules: `toJSON` is honoured (a Date becomes its ISO string),
 * object members that are undefined or functions are left out, such array elements become null.
 * Keys are sorted as strings even when they look like integers ("10" before "9"), which plain
 * JSON.stringify of a rebuilt object would not do.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '') ?? 'null';
}

function write(value: unknown, key: string): string | undefined {
  let v = value;
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON(key: string): unknown }).toJSON(key);
  }
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return undefined;
  if (Array.isArray(v)) return `[${v.map((item, i) => write(item, String(i)) ?? 'null').join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const members: string[] = [];
    for (const k of Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      const s = write((v as Record<string, unknown>)[k], k);
      if (s !== undefined) members.push(`${JSON.stringify(k)}:${s}`);
    }
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(v);
}

/** sha256 of the canonical JSON of `value`: a hash of content, independent of key order. */
export function sha256OfJson(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
