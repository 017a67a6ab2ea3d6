/**
 * Payload encryption: an AES-256-GCM `PayloadCodec` so Temporal's history (inputs, results,
 * heartbeat details, queries, memos and, with the encoded failure converter, failure messages
 * and stack traces) holds only ciphertext.
 *
 * Keys come from the environment, never from a config file or a payload:
 * - `CC2D_PAYLOAD_KEY` (base64 of 32 bytes) with `CC2D_PAYLOAD_KEY_ID`, or
 * - `CC2D_PAYLOAD_KEY_FILE`: one `id:base64` entry per line (`#` comments allowed), or JSON
 *   (`[{"id": "...", "key": "..."}]` or `{"<id>": "<base64>"}`); the first entry is the current
 *   key, the others only decrypt (rotation).
 * No key configured: encryption is off and payloads stay as they are today.
 *
 * Wire format of an encrypted payload: metadata `encoding: binary/encrypted` and
 * `encryption-key-id: <id>`; data = 12-byte IV ‖ ciphertext ‖ 16-byte GCM tag of the original
 * Payload protobuf (metadata included). The key id is authenticated as AAD, so relabelling a
 * payload with another key id fails like tampering does.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LoadedDataConverter, Payload, PayloadCodec, ProtoFailure } from '@temporalio/common';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow';
import proto from '@temporalio/proto';
import { InvalidConfigError } from '../errors';

type Env = Record<string, string | undefined>;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const KEY_ENV = 'CC2D_PAYLOAD_KEY';
export const KEY_ID_ENV = 'CC2D_PAYLOAD_KEY_ID';
export const KEY_FILE_ENV = 'CC2D_PAYLOAD_KEY_FILE';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Starts with a letter: in a JSON object an integer-like id would be reordered, losing "first = current".
const KEY_ID_RE = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;
const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;
const ProtoPayload = proto.temporal.api.common.v1.Payload;

export interface PayloadKeyring {
  /** Encrypts new payloads. */
  currentId: string;
  /** Every key that may decrypt, the current one included. */
  keys: ReadonlyMap<string, Buffer>;
  /** Where the keys came from (a variable name), for messages; never the key material. */
  source: string;
}

/** A payload that cannot be decrypted: unknown key id, wrong key or altered bytes. */
export class PayloadDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadDecryptionError';
  }
}

function decodeKey(value: string, where: string): Buffer {
  const v = value.trim();
  if (!BASE64_RE.test(v)) throw new InvalidConfigError(`${where}: not base64 (expected 32 random bytes in base64, e.g. from \`openssl rand -base64 32\`)`);
  const key = Buffer.from(v, 'base64');
  if (key.length !== KEY_BYTES) throw new InvalidConfigError(`${where}: decodes to ${key.length} bytes; AES-256 needs exactly ${KEY_BYTES} (e.g. \`openssl rand -base64 32\`)`);
  return key;
}

function checkKeyId(id: string, where: string): string {
  if (!KEY_ID_RE.test(id)) throw new InvalidConfigError(`${where}: key id "${id.slice(0, 70)}" must start with a letter and use only letters, digits, '.', '_' or '-' (at most 64)`);
  return id;
}

/** Parses a key file's text (line or JSON format); first entry = current key. */
export function parseKeyFile(text: string, where = KEY_FILE_ENV): Array<{ id: string; key: Buffer }> {
  const trimmed = text.trim();
  let raw: Array<{ id: unknown; key: unknown; where: string }>;
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      throw new InvalidConfigError(`${where}: not valid JSON`);
    }
    raw = Array.isArray(json)
      ? json.map((e: unknown, i) => ({ id: (e as { id?: unknown })?.id, key: (e as { key?: unknown })?.key, where: `${where} entry ${i + 1}` }))
      : Object.entries(json as Record<string, unknown>).map(([id, key], i) => ({ id, key, where: `${where} entry ${i + 1}` }));
  } else {
    raw = [];
    text.split(/\r?\n/).forEach((line, i) => {
      const l = line.trim();
      if (l === '' || l.startsWith('#')) return;
      const colon = l.indexOf(':');
      if (colon <= 0) throw new InvalidConfigError(`${where} line ${i + 1}: expected "<key id>:<base64 key>"`);
      raw.push({ id: l.slice(0, colon).trim(), key: l.slice(colon + 1), where: `${where} line ${i + 1}` });
    });
  }
  if (raw.length === 0) throw new InvalidConfigError(`${where}: holds no key`);
  const seen = new Set<string>();
  return raw.map((e) => {
    if (typeof e.id !== 'string' || typeof e.key !== 'string') throw new InvalidConfigError(`${e.where}: expected a string key id and a string base64 key`);
    const id = checkKeyId(e.id, e.where);
    if (seen.has(id)) throw new InvalidConfigError(`${e.where}: key id "${id}" appears twice`);
    seen.add(id);
    return { id, key: decodeKey(e.key, e.where) };
  });
}

/**
 * The keyring configured in `env`, or undefined when encryption is off. Throws
 * `InvalidConfigError` naming the variable (never echoing key material) when the setting is invalid.
 */
export function loadKeyring(env: Env = process.env): PayloadKeyring | undefined {
  const key = env[KEY_ENV]?.trim() || undefined;
  const keyId = env[KEY_ID_ENV]?.trim() || undefined;
  const file = env[KEY_FILE_ENV]?.trim() || undefined;
  if (key !== undefined && file !== undefined) throw new InvalidConfigError(`set either ${KEY_ENV} (with ${KEY_ID_ENV}) or ${KEY_FILE_ENV}, not both`);
  if (key !== undefined) {
    if (keyId === undefined) throw new InvalidConfigError(`${KEY_ID_ENV}: required with ${KEY_ENV} (the id stored beside each payload, so keys can rotate)`);
    const id = checkKeyId(keyId, KEY_ID_ENV);
    return { currentId: id, keys: new Map([[id, decodeKey(key, KEY_ENV)]]), source: KEY_ENV };
  }
  if (keyId !== undefined) throw new InvalidConfigError(`${KEY_ID_ENV} is set but ${KEY_ENV} is not`);
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidConfigError(`${KEY_FILE_ENV}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const entries = parseKeyFile(text, `${KEY_FILE_ENV} (${file})`);
  return { currentId: entries[0]!.id, keys: new Map(entries.map((e) => [e.id, e.key])), source: KEY_FILE_ENV };
}

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const text = (b: Uint8Array | null | undefined): string | undefined => (b ? Buffer.from(b).toString('utf8') : undefined);
const aad = (keyId: string): Buffer => Buffer.from(`cc2d-payload-v1:${keyId}`, 'utf8');

export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(readonly keyring: PayloadKeyring) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const id = this.keyring.currentId;
    const key = this.keyring.keys.get(id)!;
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad(id));
      const body = Buffer.concat([cipher.update(ProtoPayload.encode(p).finish()), cipher.final()]);
      return {
        metadata: { encoding: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(id) },
        data: Buffer.concat([iv, body, cipher.getAuthTag()]),
      };
    });
  }

  /** Payloads not marked `binary/encrypted` (written while encryption was off) pass through. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (text(p.metadata?.encoding) !== ENCRYPTED_ENCODING) return p;
      const id = text(p.metadata?.[KEY_ID_METADATA]);
      if (id === undefined) throw new PayloadDecryptionError(`encrypted payload without the ${KEY_ID_METADATA} metadata`);
      const key = this.keyring.keys.get(id);
      if (!key) {
        throw new PayloadDecryptionError(`payload encrypted with key id "${id}", which is not in the keyring from ${this.keyring.source} (known: ${[...this.keyring.keys.keys()].join(', ')}); add the old key to ${KEY_FILE_ENV}`);
      }
      const data = Buffer.from(p.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(`encrypted payload (key id "${id}") is truncated`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
        decipher.setAAD(aad(id));
        decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
        const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
        return ProtoPayload.decode(plain) as Payload;
      } catch {
        throw new PayloadDecryptionError(`cannot decrypt payload with key id "${id}" from ${this.keyring.source}: authentication failed (wrong key for this id, or the payload was altered)`);
      }
    });
  }
}

/** The codec configured in `env`, or undefined when encryption is off. */
export function payloadCodecFromEnv(env: Env = process.env): AesGcmPayloadCodec | undefined {
  const keyring = loadKeyring(env);
  return keyring ? new AesGcmPayloadCodec(keyring) : undefined;
}

/** For `cc2d doctor`: on/off and one line saying why; throws InvalidConfigError like `loadKeyring`. */
export function payloadEncryptionStatus(env: Env = process.env): { on: boolean; detail: string } {
  const k = loadKeyring(env);
  if (!k) return { on: false, detail: `off (set ${KEY_FILE_ENV}, or ${KEY_ENV} with ${KEY_ID_ENV}, to encrypt Temporal payloads)` };
  const older = k.keys.size - 1;
  return { on: true, detail: `on (AES-256-GCM, current key id "${k.currentId}" from ${k.source}${older > 0 ? `, ${older} older key${older === 1 ? '' : 's'} for decryption` : ''})` };
}

/**
 * The message of a raw failure (describe()'s pending activities, history events), which holds
 * only "Encoded failure" while encryption is on; decoded through the client's data converter.
 */
export async function failureMessage(dataConverter: LoadedDataConverter, failure: ProtoFailure | null | undefined): Promise<string | undefined> {
  try {
    return (await decodeOptionalFailureToOptionalError(dataConverter, failure))?.message || undefined;
  } catch {
    // Undecodable (e.g. a key missing from the keyring): what the server holds is still worth showing.
    return failure?.message || undefined;
  }
}

/** A malformed remote codec request body. */
export class CodecRequestError extends Error {}

/** A payload in the JSON form of the remote codec protocol (proto3 JSON: bytes as base64). */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

function fromJson(p: unknown, i: number): Payload {
  const o = p as JsonPayload;
  if (typeof o !== 'object' || o === null) throw new CodecRequestError(`payloads[${i}]: not an object`);
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(o.metadata ?? {})) {
    if (typeof v !== 'string') throw new CodecRequestError(`payloads[${i}].metadata.${k.slice(0, 64)}: not base64`);
    metadata[k] = Buffer.from(v, 'base64');
  }
  if (o.data !== undefined && typeof o.data !== 'string') throw new CodecRequestError(`payloads[${i}].data: not base64`);
  return { metadata, data: Buffer.from(o.data ?? '', 'base64') };
}

function toJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

/**
 * One request of the remote codec protocol (Temporal UI and CLI `--codec-endpoint`): body
 * `{"payloads": [...]}` in, the same shape out. Throws CodecRequestError on a malformed body.
 */
export async function runCodecRequest(codec: PayloadCodec, op: 'encode' | 'decode', body: unknown): Promise<{ payloads: JsonPayload[] }> {
  const list = (body as { payloads?: unknown })?.payloads;
  if (!Array.isArray(list)) throw new CodecRequestError('expected a JSON object {"payloads": [...]}');
  const payloads = list.map(fromJson);
  const out = op === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
  return { payloads: out.map(toJson) };
}
