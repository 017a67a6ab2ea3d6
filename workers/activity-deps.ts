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
import { UserError } from '../infra/errors';
import { createS3Store, type S3ObjectStore } from '../infra/storage/s3-store';
import { initBackend, type BackendInfo } from '../infra/tf-backend';
import { backendRefOf } from '../infra/backend-ref';

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

/** The device of a worker that may serve the GPU queue on a host without a GPU (`--allow-cpu`). */
export const CPU_ALLOWED = 'CPU (allowed)';

/** The device recorded in the lineage: the GPUs TensorFlow uses, else "CPU" or, with `allowCpu`, "CPU (allowed)". */
export function workerDevice(info: Pick<BackendInfo, 'devices'>, allowCpu: boolean): string {
  const gpus = info.devices.filter((d) => d.startsWith('GPU'));
  if (gpus.length > 0) return gpus.join(', ');
  return allowCpu ? CPU_ALLOWED : 'CPU';
}

/**
 * A worker polling the GPU queue must compute on a GPU, or have been started with --allow-cpu
 * (then its device is "CPU (allowed)"): training at paper shapes on a CPU takes days, so a
 * GPU host whose driver or CUDA libraries broke must not quietly take the work.
 */
export function assertGpuQueueDevice(backend: BackendRef): void {
  const device = backend.device ?? 'CPU';
  if (device.startsWith('GPU') || device === CPU_ALLOWED) return;
  throw new UserError(
    `no usable GPU on this host (TensorFlow computes on: ${device}, backend ${backend.backend}); ` +
      'a worker on the GPU queue needs one. Pass --allow-cpu to run the GPU queue on the CPU anyway (recorded as "CPU (allowed)" in the lineage), ' +
      'or check `npx cc2d doctor` (devices) and `npm run setup -- --gpu`',
  );
}

/**
 * `withBackend`: GPU/CPU activity workers need TF; a workflow-only worker does not load it.
 * `allowCpu`: this process may serve the GPU queue without a GPU (see `assertGpuQueueDevice`).
 */
export async function buildActivityDeps(settings: StackSettings, options: { withBackend?: boolean; allowCpu?: boolean } = {}): Promise<WorkerDeps> {
  let backend: BackendRef = { backend: 'none', tfVersion: 'none', tfjsVersion: 'none' };
  if (options.withBackend ?? true) {
    const info = await initBackend();
    backend = backendRefOf(info, workerDevice(info, options.allowCpu ?? false));
  }
  return {
    store: createS3Store(settings),
    backend: () => backend,
    codeVersion: await codeVersion(settings.projectRoot),
  };
}
