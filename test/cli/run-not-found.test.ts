/**
 * A run id Temporal does not know: every command that looks a run up there prints one line naming
 * the run and the namespace and exits 2 (a UserError, as `compare` and `report` do for an
 * unpublished run), never a WorkflowNotFoundError stack trace. Subprocesses against the real
 * Temporal dev server, in the tests' namespace (test/support/stack.ts). Skips locally without the
 * stack; fails under CI.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { cc2dCli } from '../dataset/support/cc2d-cli';
import { requireStack } from '../support/stack';

const stack = await requireStack('cli-run-not-found', { s3: true, temporal: true });
afterAll(() => stack?.cleanup());

const cc2d = cc2dCli(stack?.settings.s3.prefix ?? '');

describe.skipIf(!stack)('a run id that does not exist', () => {
  const runId = `cc2d-no-such-run-${randomBytes(4).toString('hex')}`;

  it.each([
    ['status', [runId]],
    ['eval', [runId]],
    ['resume', [runId, '--workers', 'none']],
    ['cancel', [runId]],
    ['rerun', [runId, '--workers', 'none']],
  ])('cc2d %s: one line naming the run and the namespace, exit 2', async (command, args) => {
    const r = await cc2d([command, ...args]);
    expect(r.stderr.trim()).toBe(`cc2d: run ${runId} not found in Temporal namespace ${stack!.namespace}`);
    expect(r.code).toBe(2);
  });
});
