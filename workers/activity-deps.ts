/**
 * Builds what the activities close over, once per worker process: the S3 store (stack settings,
 * credentials from the standard chain), the TF backend (infra/tf-backend.ts, the one place that
 * chooses it) and the code version recorded in every run's lineage.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ActivityDeps } from '../activities/deps';
import type { BackendRef } from '../contracts/types';
import type { StackSettings } from '../infra/config/stack';
import { createS3Store, type S3ObjectStore } from '../infra/storage/s3-store';
import { initBackend } from '../infra/tf-backend';

const execFileP = promisify(execFile);

/** `git:<sha>[-dirty]` of the checkout, else `package:<version>`. */
export async function codeVersion(projectRoot: string): Promise<string> {
  if (process.env.CC2D_CODE_VERSION) return process.env.CC2D_CODE_VERSION;
  try {
    const { stdout } = await execFileP('git', ['rev-parse', 'HEAD'], { cwd: projectRoot, timeout: 5_000 });
    const { stdout: status } = await execFileP('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: projectRoot, timeout: 5_000 });
    return `git:${stdout.trim()}${status.trim() === '' ? '' : '-dirty'}`;
  } catch {
    const pkg = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string };
    return `package:${pkg.version}`;
  }
}

export interface WorkerDeps extends ActivityDeps {
  store: S3ObjectStore;
}

/** `withBackend`: GPU/CPU activity workers need TF; a workflow-only worker does not load it. */
export async function buildActivityDeps(settings: StackSettings, options: { withBackend?: boolean } = {}): Promise<WorkerDeps> {
  let backend: BackendRef = { backend: 'none', tfVersion: 'none', tfjsVersion: 'none' };
  if (options.withBackend ?? true) {
    const info = await initBackend();
    backend = { backend: info.backend, tfVersion: info.tfVersion, tfjsVersion: info.tfjsVersion };
  }
  return {
    store: createS3Store(settings),
    backend: () => backend,
    codeVersion: await codeVersion(settings.projectRoot),
  };
}
