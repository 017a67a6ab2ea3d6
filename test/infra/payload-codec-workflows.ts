/**
 * TEST-ONLY workflows for test/infra/payload-codec-temporal.test.ts: tiny, so the encryption
 * test needs no TF training. `codecEcho` carries its input through an activity and back;
 * `codecFail` gets an activity failure and fails itself with a message of its own, so both the
 * worker's and the sandbox's failure converters are exercised.
 */
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';

export interface ProbeActivities {
  echo(note: string): Promise<string>;
  failWith(note: string): Promise<void>;
}

const act = proxyActivities<ProbeActivities>({ startToCloseTimeout: '20s', retry: { maximumAttempts: 1 } });

export async function codecEcho(input: { note: string }): Promise<{ echoed: string }> {
  return { echoed: await act.echo(input.note) };
}

export async function codecFail(input: { note: string }): Promise<void> {
  try {
    await act.failWith(input.note);
  } catch (err) {
    throw ApplicationFailure.create({ message: `workflow gave up on ${input.note}`, type: 'ProbeFailed', nonRetryable: true, details: [{ note: input.note }], cause: err as Error });
  }
}
