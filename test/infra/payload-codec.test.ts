/**
 * The AES-256-GCM payload codec and its keyring, without servers: round trip, ciphertext only,
 * tampering and relabelling fail authentication, rotation, key settings rejected with the
 * variable named (never the key), and the data converter that every client and worker uses.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { decodeFailure, encodeErrorToFailure, loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENCODED_FAILURE_BUNDLE_MARKER, temporalDataConverter } from '../../infra/temporal/connect';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  failureMessage,
  KEY_ID_METADATA,
  loadKeyring,
  parseKeyFile,
  payloadCodecFromEnv,
  payloadEncryptionStatus,
  PayloadDecryptionError,
  runCodecRequest,
  type PayloadKeyring,
} from '../../infra/temporal/payload-codec';
import { bundleWorkflows, WORKFLOWS_PATH } from '../../workers/workflow-worker';

const SECRET = 'FAKE-SECRET-7f3a9c-do-not-store';
const key = (): string => randomBytes(32).toString('base64');
const ring = (entries: Array<[string, string]>): PayloadKeyring => ({ currentId: entries[0]![0], keys: new Map(entries.map(([id, k]) => [id, Buffer.from(k, 'base64')])), source: 'test' });
const str = (b: Uint8Array | null | undefined): string => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const plain = (v: unknown): Payload => defaultPayloadConverter.toPayload(v);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'cc2d-payload-codec-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('AesGcmPayloadCodec', () => {
  const k1 = key();
  const codec = new AesGcmPayloadCodec(ring([['k1', k1]]));

  it('round-trips payloads (metadata included) and stores only ciphertext with the key id', async () => {
    const input = [plain({ note: SECRET }), plain(undefined), plain(new Uint8Array([1, 2, 3]))];
    const encoded = await codec.encode(input);
    expect(encoded).toHaveLength(3);
    for (const p of encoded) {
      expect(str(p.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(str(p.metadata?.[KEY_ID_METADATA])).toBe('k1');
      expect(Buffer.from(p.data!).includes(SECRET)).toBe(false);
      expect(Buffer.from(p.data!).includes('json/plain')).toBe(false);
    }
    const decoded = await codec.decode(encoded);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([{ note: SECRET }, undefined, new Uint8Array([1, 2, 3])]);
    expect(str(decoded[0]!.metadata?.encoding)).toBe('json/plain');
  });

  it('uses a fresh IV per payload: equal inputs give different ciphertexts', async () => {
    const [a, b] = await codec.encode([plain('same'), plain('same')]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('passes unencrypted payloads through on decode (history written while encryption was off)', async () => {
    const p = plain({ old: true });
    expect(await codec.decode([p])).toEqual([p]);
  });

  it('rejects a tampered payload: flipped ciphertext, tag or IV bit, truncation', async () => {
    const [enc] = await codec.encode([plain({ note: SECRET })]);
    for (const at of [0, 12, enc!.data!.length - 1]) {
      const data = Buffer.from(enc!.data!);
      data[at]! ^= 1;
      await expect(codec.decode([{ ...enc!, data }])).rejects.toThrow(/authentication failed/);
    }
    await expect(codec.decode([{ ...enc!, data: enc!.data!.subarray(0, 20) }])).rejects.toThrow(/truncated/);
  });

  it('rejects a payload relabelled with another key id (the id is authenticated)', async () => {
    const both = new AesGcmPayloadCodec(ring([['k1', k1], ['k2', k1]]));
    const [enc] = await both.encode([plain('x')]);
    const relabelled = { ...enc!, metadata: { ...enc!.metadata, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await expect(both.decode([relabelled])).rejects.toThrow(/key id "k2".*authentication failed/);
  });

  it('a wrong key for the id, or an unknown id, fails with a clear error', async () => {
    const [enc] = await codec.encode([plain({ note: SECRET })]);
    const wrong = new AesGcmPayloadCodec(ring([['k1', key()]]));
    await expect(wrong.decode([enc!])).rejects.toThrow(PayloadDecryptionError);
    await expect(wrong.decode([enc!])).rejects.toThrow(/cannot decrypt payload with key id "k1".*wrong key/);
    const other = new AesGcmPayloadCodec(ring([['k9', key()]]));
    await expect(other.decode([enc!])).rejects.toThrow(/key id "k1", which is not in the keyring.*known: k9/);
  });

  it('rotation: data encrypted with the old key decodes after the current key changes; new data uses the new key', async () => {
    const k2 = key();
    const [old] = await codec.encode([plain({ v: 1 })]);
    const rotated = new AesGcmPayloadCodec(ring([['k2', k2], ['k1', k1]]));
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!)).toEqual({ v: 1 });
    const [fresh] = await rotated.encode([plain({ v: 2 })]);
    expect(str(fresh!.metadata?.[KEY_ID_METADATA])).toBe('k2');
    await expect(codec.decode([fresh!])).rejects.toThrow(/"k2", which is not in the keyring/);
  });

  it('serves the remote codec protocol (base64 JSON) both ways', async () => {
    const json = (p: Payload) => ({ metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(p.data!).toString('base64') });
    const enc = await runCodecRequest(codec, 'encode', { payloads: [json(plain({ note: SECRET }))] });
    expect(JSON.stringify(enc)).not.toContain(SECRET);
    const dec = await runCodecRequest(codec, 'decode', enc);
    expect(Buffer.from(dec.payloads[0]!.data!, 'base64').toString()).toBe(JSON.stringify({ note: SECRET }));
    await expect(runCodecRequest(codec, 'decode', { nope: 1 })).rejects.toThrow(/payloads/);
  });
});

describe('keyring from the environment', () => {
  it('is off without a key (today\'s behaviour) and doctor says so', () => {
    expect(loadKeyring({})).toBeUndefined();
    expect(payloadCodecFromEnv({})).toBeUndefined();
    expect(temporalDataConverter({})).toBeUndefined();
    expect(payloadEncryptionStatus({})).toMatchObject({ on: false, detail: expect.stringMatching(/^off/) });
  });

  it('reads CC2D_PAYLOAD_KEY with its id', () => {
    const k = loadKeyring({ CC2D_PAYLOAD_KEY: key(), CC2D_PAYLOAD_KEY_ID: 'prod-2026' })!;
    expect(k.currentId).toBe('prod-2026');
    expect(k.keys.get('prod-2026')).toHaveLength(32);
    expect(payloadEncryptionStatus({ CC2D_PAYLOAD_KEY: key(), CC2D_PAYLOAD_KEY_ID: 'prod-2026' })).toMatchObject({ on: true, detail: expect.stringContaining('"prod-2026"') });
  });

  it('rejects invalid settings naming the variable and never echoing the key', () => {
    const short = randomBytes(16).toString('base64');
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ CC2D_PAYLOAD_KEY: short, CC2D_PAYLOAD_KEY_ID: 'k1' }, /^CC2D_PAYLOAD_KEY: decodes to 16 bytes/],
      [{ CC2D_PAYLOAD_KEY: 'not base64 !!', CC2D_PAYLOAD_KEY_ID: 'k1' }, /^CC2D_PAYLOAD_KEY: not base64/],
      [{ CC2D_PAYLOAD_KEY: key() }, /^CC2D_PAYLOAD_KEY_ID: required/],
      [{ CC2D_PAYLOAD_KEY: key(), CC2D_PAYLOAD_KEY_ID: '1 bad id' }, /^CC2D_PAYLOAD_KEY_ID: key id/],
      [{ CC2D_PAYLOAD_KEY_ID: 'k1' }, /CC2D_PAYLOAD_KEY_ID is set but CC2D_PAYLOAD_KEY is not/],
      [{ CC2D_PAYLOAD_KEY: key(), CC2D_PAYLOAD_KEY_ID: 'k1', CC2D_PAYLOAD_KEY_FILE: '/x' }, /either CC2D_PAYLOAD_KEY .* or CC2D_PAYLOAD_KEY_FILE/],
      [{ CC2D_PAYLOAD_KEY_FILE: path.join(os.tmpdir(), 'cc2d-no-such-key-file') }, /^CC2D_PAYLOAD_KEY_FILE: cannot read .* \(ENOENT\)/],
    ];
    for (const [env, re] of cases) {
      let message = '';
      try {
        loadKeyring(env);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(re);
      if (env.CC2D_PAYLOAD_KEY) expect(message).not.toContain(env.CC2D_PAYLOAD_KEY);
      expect(() => temporalDataConverter(env)).toThrow(re);
    }
  });

  it('reads a key file in line or JSON form; first entry is current, the others decrypt', async () => {
    const [a, b] = [key(), key()];
    const lines = path.join(dir, 'keys.txt');
    await writeFile(lines, `# rotated 2026-11\nk2:${b}\n\nk1: ${a}\n`, { mode: 0o600 });
    const fromLines = loadKeyring({ CC2D_PAYLOAD_KEY_FILE: lines })!;
    expect(fromLines.currentId).toBe('k2');
    expect([...fromLines.keys.keys()]).toEqual(['k2', 'k1']);
    const asJson = path.join(dir, 'keys.json');
    await writeFile(asJson, JSON.stringify([{ id: 'k2', key: b }, { id: 'k1', key: a }]), { mode: 0o600 });
    expect(loadKeyring({ CC2D_PAYLOAD_KEY_FILE: asJson })).toMatchObject({ currentId: 'k2', source: 'CC2D_PAYLOAD_KEY_FILE' });
    expect(parseKeyFile(JSON.stringify({ k2: b, k1: a })).map((e) => e.id)).toEqual(['k2', 'k1']);
  });

  it('rejects a bad key file with the line or entry named', () => {
    expect(() => parseKeyFile('')).toThrow(/holds no key/);
    expect(() => parseKeyFile(`k1:${key()}\nno-colon-here`)).toThrow(/line 2: expected "<key id>:<base64 key>"/);
    expect(() => parseKeyFile(`k1:${key()}\nk1:${key()}`)).toThrow(/line 2: key id "k1" appears twice/);
    expect(() => parseKeyFile(`k1:${randomBytes(31).toString('base64')}`)).toThrow(/line 1: decodes to 31 bytes/);
    expect(() => parseKeyFile('[{"id": "k1"}]')).toThrow(/entry 1: expected a string key id/);
    expect(() => parseKeyFile('{"k1": ')).toThrow(/not valid JSON/);
  });
});

describe('the data converter of clients and workers', () => {
  const env = { CC2D_PAYLOAD_KEY: key(), CC2D_PAYLOAD_KEY_ID: 'k1' };

  it('encodes failure messages and stack traces into an encrypted payload', async () => {
    const dc = loadDataConverter(temporalDataConverter(env));
    const failure = await encodeErrorToFailure(dc, ApplicationFailure.create({ message: `bad input ${SECRET}`, details: [SECRET] }));
    const stored = JSON.stringify(failure, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v));
    expect(stored).not.toContain(SECRET);
    expect(failure.message).toBe('Encoded failure');
    const decoded = await decodeFailure(dc.payloadCodecs, failure);
    expect(dc.failureConverter.failureToError(decoded, dc.payloadConverter).message).toBe(`bad input ${SECRET}`);
    // What `cc2d status` shows for a raw pending-activity failure:
    expect(await failureMessage(dc, failure)).toBe(`bad input ${SECRET}`);
    expect(await failureMessage(loadDataConverter(temporalDataConverter({ CC2D_PAYLOAD_KEY: key(), CC2D_PAYLOAD_KEY_ID: 'k1' })), failure)).toBe('Encoded failure');
    expect(await failureMessage(loadDataConverter(undefined), { message: 'plain' })).toBe('plain');
    expect(await failureMessage(dc, undefined)).toBeUndefined();
  });

  it('bundles the encoded failure converter into the pipeline workflows (failures raised in the sandbox)', async () => {
    const bundle = await bundleWorkflows(WORKFLOWS_PATH, temporalDataConverter(env));
    expect(ENCODED_FAILURE_BUNDLE_MARKER).toMatch(/^cc2d-encoded-failure-converter/);
    expect(bundle.code).toContain(ENCODED_FAILURE_BUNDLE_MARKER);
  });
});
