// When the suite runs under `npm run test:all`, every test file appends "start" and "end" lines
// (pid, file) to the log CC2D_TEST_FILE_LOG names. A fork that dies natively reports nothing to
// vitest but "Channel closed"; infra/test-all.sh then names the files that started and never
// ended, i.e. the ones running in the process that crashed.
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';

const log = process.env.CC2D_TEST_FILE_LOG;
if (log) {
  const record = (event: 'start' | 'end') => {
    const file = relative(process.cwd(), expect.getState().testPath ?? '?');
    appendFileSync(log, `${event}\t${process.pid}\t${file}\n`);
  };
  beforeAll(() => record('start'));
  afterAll(() => record('end'));
}
