/**
 * withStorageRetry inside an activity (docs/reliability.md#f6): a transient storage failure is retried
 * with backoff, heartbeats go out during every wait (also a backoff longer than the heartbeat
 * timeout) and each retry is reported to the observers tests use to prove an outage was hit.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { observeStorageRetries, withStorageRetry, type StorageRetryEvent } from '../../activities/failures';
import { NotFoundError } from '../../infra/storage/object-store';

function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8333'), { code: 'ECONNREFUSED' });
}

describe('withStorageRetry', () => {
  it('retries transient failures, heartbeating at least every half heartbeat timeout, and reports each retry', async () => {
    const env = new MockActivityEnvironment({ attempt: 2, heartbeatTimeoutMs: 1_000, activityType: 'trainSelfSupervised' });
    const beats: number[] = [];
    env.on('heartbeat', () => beats.push(Date.now()));
    const events: StorageRetryEvent[] = [];
    const stop = observeStorageRetries((e) => events.push(e));
    let calls = 0;
    const t0 = Date.now();
    try {
      const out = await env.run(() => withStorageRetry('put x', async () => (++calls <= 3 ? Promise.reject(refused()) : 'ok')));
      expect(out).toBe('ok');
    } finally {
      stop();
    }
    expect(calls).toBe(4);
    expect(events.map((e) => [e.attempt, e.delayMs])).toEqual([[1, 500], [2, 1000], [3, 2000]]);
    expect(events.every((e) => e.what === 'put x' && /ECONNREFUSED/.test(e.error))).toBe(true);
    expect(events[0]!.activity).toEqual({ type: 'trainSelfSupervised', attempt: 2 });
    // 500 ms slices: the 2 s backoff alone heartbeats 4 times.
    expect(events.map((e) => e.heartbeats)).toEqual([1, 2, 4]);
    const gaps = [t0, ...beats, Date.now()].slice(1).map((t, i, a) => (i === 0 ? t - t0 : t - a[i - 1]!));
    expect(Math.max(...gaps)).toBeLessThan(1_000);
  });

  it('does not retry a permanent error', async () => {
    const events: StorageRetryEvent[] = [];
    const stop = observeStorageRetries((e) => events.push(e));
    try {
      await expect(withStorageRetry('get y', () => Promise.reject(new NotFoundError('y')))).rejects.toBeInstanceOf(NotFoundError);
    } finally {
      stop();
    }
    expect(events).toEqual([]);
  });
});
