/** Runs `bin/cc2d.mjs` as a subprocess with the S3 key prefix of a test's stack; never throws on a non-zero exit. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `timeoutMs`: how long one command may take (default 2 min; a whole run needs longer). */
export function cc2dCli(s3Prefix: string, timeoutMs = 120_000): (args: string[]) => Promise<CliResult> {
  return async (args) => {
    try {
      const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'bin/cc2d.mjs'), ...args], {
        cwd: ROOT,
        env: { ...process.env, CC2D_S3_PREFIX: s3Prefix },
        timeout: timeoutMs,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  };
}
