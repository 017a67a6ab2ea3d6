/**
 * The one way stored JSON is read back: fetch (sha256-verified when the reference has one),
 * parse, validate with the document's zod schema (contracts/documents.ts). A document that is
 * not JSON or does not fit its schema is an `InvalidDocumentError` naming the key and the
 * offending fields; a missing one is the store's `NotFoundError`.
 */
import type { z } from 'zod';
import { IntegrityError } from '../errors';
import type { ObjectStore } from './object-store';

/** A stored JSON document that does not parse or does not match its schema. */
export class InvalidDocumentError extends IntegrityError {
  constructor(readonly key: string, detail: string) {
    super(`${key}: ${detail}`);
    this.name = 'InvalidDocumentError';
  }
}

const dec = new TextDecoder();

/** Parses and validates JSON bytes read from `key` (for bytes already fetched). */
export function parseJson<S extends z.ZodType>(key: string, bytes: Uint8Array, schema: S): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(dec.decode(bytes));
  } catch (err) {
    throw new InvalidDocumentError(key, `not valid JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 10).map((i) => `${i.path.map(String).join('.') || '(document)'}: ${i.message}`);
    throw new InvalidDocumentError(key, `not a valid document: ${issues.join('; ')}`);
  }
  return parsed.data;
}

/** Reads the JSON document at `at` (a key, or an artifact reference whose sha256 is verified). */
export async function readJson<S extends z.ZodType>(store: ObjectStore, at: string | { key: string; sha256?: string }, schema: S): Promise<z.output<S>> {
  const key = typeof at === 'string' ? at : at.key;
  const bytes = await store.get(key, typeof at === 'string' ? undefined : at.sha256);
  return parseJson(key, bytes, schema);
}
