/** The worker's runtime logger scrubs secrets from the SDK's own log lines (docs/reliability.md#b7). */
import { ApplicationFailure } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';
import { afterEach, describe, expect, it } from 'vitest';
import { runtimeLogger, scrubLogValue } from '../../workers/runtime-logger';

const FAKE_KEY_ID = 'AKIAFAKEPLANTED12345';
const FAKE_SECRET = 'planted-fake-secret-0123456789abcdef';
const SIGNED_URL = `https://s3.example/b/k?X-Amz-Credential=${FAKE_KEY_ID}%2F20240101&X-Amz-Signature=deadbeefcafe0123`;
const saved = process.env.AWS_SECRET_ACCESS_KEY;

afterEach(() => {
  if (saved === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  else process.env.AWS_SECRET_ACCESS_KEY = saved;
});

function leaks(text: string): string[] {
  return [FAKE_KEY_ID, FAKE_SECRET, 'deadbeefcafe0123'].filter((s) => text.includes(s));
}

describe('runtime logger', () => {
  it("scrubs the SDK's 'Activity failed' warning: message, error, cause and nested metadata", () => {
    process.env.AWS_SECRET_ACCESS_KEY = FAKE_SECRET;
    const entries: LogEntry[] = [];
    const logger = runtimeLogger('INFO', (e) => entries.push(e));
    const cause = new Error(`upstream said ${FAKE_SECRET}`);
    const error = ApplicationFailure.create({ message: `S3 put failed: ${SIGNED_URL}`, type: 'StorageError', cause });
    logger.warn('Activity failed', { error, durationMs: 12, activity: { url: SIGNED_URL, tries: [FAKE_KEY_ID] } });
    logger.warn(`message itself names ${FAKE_SECRET}`);
    expect(entries).toHaveLength(2);
    const printed = entries.map((e) => {
      const err = (e.meta as { error?: Error } | undefined)?.error;
      return `${e.message} ${err?.message ?? ''} ${err?.stack ?? ''} ${String((err?.cause as Error | undefined)?.message)} ${JSON.stringify(e.meta)}`;
    }).join('\n');
    expect(leaks(printed)).toEqual([]);
    expect(printed).toContain('[redacted]');
    expect((entries[0]!.meta as { error: Error }).error.name).toBe('ApplicationFailure');
    expect((entries[0]!.meta as { durationMs: number }).durationMs).toBe(12);
  });

  it('drops the expected start-up notices and leaves other values alone', () => {
    const entries: LogEntry[] = [];
    const logger = runtimeLogger('INFO', (e) => entries.push(e));
    logger.info('No activities registered, not polling for activity tasks');
    expect(entries).toEqual([]);
    expect(scrubLogValue({ n: 1, ok: true, list: ['a'] })).toEqual({ n: 1, ok: true, list: ['a'] });
  });
});
