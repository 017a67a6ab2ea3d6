/**
 * Object-key validation (path traversal / zip-slip defence, reliability.md B1).
 *
 * A key is a `/`-separated relative path. It is rejected, never "cleaned", when it (or any
 * percent-decoded or Unicode-normalised form of it) is empty, absolute, has a drive letter,
 * contains a backslash, NUL or another control character, an empty segment (`a//b`, trailing
 * `/`), or a `.` / `..` segment. Rejection happens before any read or write and lists every
 * offender at once (InvalidDatasetKeyError, non-retryable).
 */
import { InvalidDatasetKeyError } from '../errors';

const MAX_KEY_BYTES = 1024;

function shapeProblem(k: string): string | undefined {
  if (k === '') return 'empty';
  if (/[\u0000-\u001f\u007f]/.test(k)) return 'control character';
  if (k.includes('\\')) return 'backslash';
  if (k.startsWith('/')) return 'absolute';
  if (/^[A-Za-z]:/.test(k)) return 'drive letter';
  const segments = k.split('/');
  if (segments.some((s) => s === '')) return 'empty segment';
  if (segments.some((s) => s === '.' || s === '..')) return 'dot segment';
  return undefined;
}

/** Why `key` is not an acceptable relative object key, or undefined when it is. */
export function keyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return 'not a string';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`;
  // Check the key as given, then every decoding a later layer might apply: repeated
  // percent-decoding (%2e%2e, %252e...) and NFKC (fullwidth dots and solidus).
  const forms = new Set<string>([key]);
  let cur = key;
  for (let i = 0; i < 3 && cur.includes('%'); i++) {
    let next: string;
    try {
      next = decodeURIComponent(cur);
    } catch {
      break; // a literal '%' (e.g. "100%.png"): no decoded reading exists, nothing to check
    }
    if (next === cur) break;
    forms.add(next);
    cur = next;
  }
  for (const f of [...forms]) forms.add(f.normalize('NFKC'));
  for (const f of forms) {
    const p = shapeProblem(f);
    if (p) return f === key ? p : `${p} after decoding`;
  }
  return undefined;
}

function show(key: unknown): string {
  return JSON.stringify(typeof key === 'string' ? key : String(key));
}

/** Throws InvalidDatasetKeyError listing every offending key (with the reason). */
export function assertValidKeys(keys: readonly unknown[]): void {
  const offenders: string[] = [];
  for (const k of keys) {
    const p = keyProblem(k);
    if (p) offenders.push(`${show(k)} (${p})`);
  }
  if (offenders.length > 0) throw new InvalidDatasetKeyError(offenders);
}

/** Validates a prefix: '' or a valid key (a trailing slash is tolerated and removed). */
export function normalizePrefix(prefix: string): string {
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (p !== '') assertValidKeys([p]);
  return p;
}

/** Joins validated parts with `/`; every part must itself be a valid key ('' parts are skipped). */
export function joinKey(...parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== '');
  assertValidKeys(nonEmpty);
  return nonEmpty.join('/');
}
