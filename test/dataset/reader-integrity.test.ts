/**
 * Corrupt bytes on read (docs/reliability.md#f7), without servers: a dataset image is checked
 * against the sha256 of its version's manifest; through the activities' retrying store a flipped
 * byte is re-read, and bytes that stay corrupt end in a non-retryable failure naming the key.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { describe, expect, it } from 'vitest';
import { CorruptDataError, INTEGRITY_READS, retryingStore, toActivityFailure } from '../../activities/failures';
import { datasetPrefix, DATASET_FILES } from '../../infra/dataset/published';
import { DatasetReader } from '../../infra/dataset/reader';
import { encodeGreyPng } from '../../infra/dataset/working-image';
import { IntegrityError } from '../../infra/errors';
import { publishWithManifest } from '../../infra/storage/manifest';
import { RecordingMemoryStore } from './support/memory-store';

const VERSION = 'v1-integrity';
const SIZE = 8;

/** A memory store whose first `flips` reads of keys matching `pattern` come back with one byte flipped. */
class FlippingStore extends RecordingMemoryStore {
  reads = 0;
  constructor(private readonly pattern: RegExp, private flips: number) {
    super();
  }

  override async get(key: string, expectSha256?: string): Promise<Uint8Array> {
    if (!this.pattern.test(key)) return super.get(key, expectSha256);
    this.reads++;
    const bytes = await super.get(key);
    if (this.flips > 0) {
      this.flips--;
      bytes[bytes.length >> 1]! ^= 0x01;
    }
    // Verify like the S3 store does: on the bytes as received.
    const stored = new RecordingMemoryStore();
    await stored.put(key, bytes);
    return stored.get(key, expectSha256);
  }
}

async function publishedStore(flips: number): Promise<{ store: FlippingStore; key: string }> {
  const store = new FlippingStore(/\/images\/8\/001\.png$/, flips);
  const png = await encodeGreyPng({ width: SIZE, height: SIZE, data: new Uint8Array(SIZE * SIZE).map((_, i) => i * 3) });
  await publishWithManifest(store, datasetPrefix(VERSION), [{ relKey: DATASET_FILES.image(SIZE, '001'), bytes: png }]);
  return { store, key: `${datasetPrefix(VERSION)}/${DATASET_FILES.image(SIZE, '001')}` };
}

describe('dataset images are verified against the manifest', () => {
  it('a corrupt image is an IntegrityError naming the key, never decoded', async () => {
    const { store, key } = await publishedStore(1);
    const err = await new DatasetReader(store, VERSION).images(SIZE, ['001']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toContain(key);
  });

  it('through the retrying store a byte flipped on the first reads is re-read and the image is the stored one', async () => {
    const clean = await new DatasetReader((await publishedStore(0)).store, VERSION).images(SIZE, ['001']);
    const { store } = await publishedStore(INTEGRITY_READS - 1);
    const images = await new DatasetReader(retryingStore(store), VERSION).images(SIZE, ['001']);
    expect(store.reads).toBe(INTEGRITY_READS);
    expect(images[0]!.data).toEqual(clean[0]!.data);
  }, 20_000);

  it('bytes corrupt on every read: CorruptDataError after INTEGRITY_READS reads, a non-retryable failure naming the key', async () => {
    const { store, key } = await publishedStore(1000);
    const err = await new DatasetReader(retryingStore(store), VERSION).images(SIZE, ['001']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptDataError);
    expect(store.reads).toBe(INTEGRITY_READS);
    const failure = toActivityFailure(err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'CorruptData', nonRetryable: true });
    expect((failure as ApplicationFailure).message).toContain(key);
  }, 20_000);
});
