/**
 * On x86-64 the native backend runs TensorFlow's oneDNN convolution kernels unless the
 * environment says otherwise (infra/tf-backend.ts): TensorFlow alone switches them on only on CPUs
 * with AVX-512 VNNI/BF16 or AMX, and an AVX2-only CPU then trains ≈ 1.4× slower. Each case starts a
 * fresh process (TensorFlow reads the variable once, when it loads) with ONEDNN_VERBOSE=1, whose
 * log shows whether a oneDNN convolution primitive really ran.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../infra/config/stack';
import { activeBackend } from '../../infra/tf-backend';

// The CPU kernels only: on a GPU host the probe's convolution would run on the GPU.
const info = activeBackend();
const native = info?.backend === 'tensorflow' && process.arch === 'x64' && process.platform !== 'win32' && !info.devices.some((d) => d.startsWith('GPU'));

function probe(oneDnnOpts: string | undefined) {
  const env: NodeJS.ProcessEnv = { ...process.env, ONEDNN_VERBOSE: '1', TFJS_BACKEND: 'tensorflow' };
  delete env.TF_ENABLE_ONEDNN_OPTS;
  if (oneDnnOpts !== undefined) env.TF_ENABLE_ONEDNN_OPTS = oneDnnOpts;
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'test', 'infra', 'onednn-probe.ts')], {
    cwd: PROJECT_ROOT, env, encoding: 'utf8', timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.split('\n');
  const line = lines.find((l) => l.startsWith('probe '));
  expect(line, r.stdout).toBeDefined();
  // oneDNN's verbose log is on in both cases (its version line), so "no convolution" below means
  // none ran, not that nothing was logged.
  expect(lines.some((l) => /^onednn_verbose,.*,info,oneDNN v\d/.test(l)), r.stdout).toBe(true);
  const convolutions = lines.filter((l) => /^onednn_verbose,.*primitive,exec,cpu,convolution,/.test(l));
  return { info: JSON.parse(line!.slice('probe '.length)) as { oneDnnOpts?: string }, convolutions };
}

describe.skipIf(!native)('oneDNN kernels on the native CPU backend', () => {
  it('are on when the environment does not say: the convolution and both its gradients run as oneDNN primitives', () => {
    const { info, convolutions } = probe(undefined);
    expect(info.oneDnnOpts).toBe('1');
    expect(convolutions.some((l) => l.includes('forward'))).toBe(true);
    expect(convolutions.some((l) => l.includes('backward_data'))).toBe(true);
    expect(convolutions.some((l) => l.includes('backward_weights'))).toBe(true);
  });

  it('stay off when TF_ENABLE_ONEDNN_OPTS=0 says so (an explicit value is never overridden)', () => {
    const { info, convolutions } = probe('0');
    expect(info.oneDnnOpts).toBe('0');
    expect(convolutions).toEqual([]);
  });
});
