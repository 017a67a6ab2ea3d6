/**
 * A worker polling the GPU queue on a host without a usable GPU refuses to start unless
 * --allow-cpu; local and test workers pass the flag and record "CPU (allowed)". Needs no servers:
 * the refusal comes before any connection (the address below is unreachable on purpose).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../infra/errors';
import { PROJECT_ROOT } from '../../infra/config/stack';
import { activeBackend } from '../../infra/tf-backend';
import { assertGpuQueueDevice, CPU_ALLOWED, workerDevice } from '../../workers/activity-deps';

const ref = (device?: string) => ({ backend: 'tensorflow', tfVersion: '2.21.0', tfjsVersion: '4.22.0', ...(device ? { device } : {}) });

describe('GPU-queue device policy', () => {
  it('names the device: the GPUs, else CPU, or CPU (allowed) with the flag', () => {
    expect(workerDevice({ devices: ['GPU:0 NVIDIA L4', 'GPU:1 NVIDIA L4'] }, false)).toBe('GPU:0 NVIDIA L4, GPU:1 NVIDIA L4');
    expect(workerDevice({ devices: ['GPU:0 NVIDIA L4'] }, true)).toBe('GPU:0 NVIDIA L4');
    expect(workerDevice({ devices: ['CPU'] }, false)).toBe('CPU');
    expect(workerDevice({ devices: ['CPU'] }, true)).toBe(CPU_ALLOWED);
  });

  it('refuses a CPU device (and a backend that reports none) unless allowed', () => {
    expect(() => assertGpuQueueDevice(ref('GPU:0 NVIDIA L4'))).not.toThrow();
    expect(() => assertGpuQueueDevice(ref(CPU_ALLOWED))).not.toThrow();
    for (const device of ['CPU', undefined]) {
      expect(() => assertGpuQueueDevice(ref(device))).toThrow(UserError);
      expect(() => assertGpuQueueDevice(ref(device))).toThrow(/--allow-cpu/);
    }
  });
});

describe('cc2d worker --queues gpu', () => {
  const hasGpu = activeBackend()?.devices.some((d) => d.startsWith('GPU')) ?? false;

  it.skipIf(hasGpu)('exits 2 on a host without a usable GPU, naming --allow-cpu', () => {
    const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'cc2d.mjs'), 'worker', '--queues', 'gpu'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CC2D_TEMPORAL_ADDRESS: '127.0.0.1:9' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain('--allow-cpu');
    expect(r.stdout).not.toContain('cc2d worker ready');
  });
});
