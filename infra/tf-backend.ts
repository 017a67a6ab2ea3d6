/**
 * The one place that chooses the TensorFlow.js backend.
 *
 * Order: `tensorflow` (native addon built by infra/install-tfjs-native.sh: the GPU build of
 * @tensorflow/tfjs-node-gpu when `--gpu` built it, else @tensorflow/tfjs-node) when it loads,
 * else `wasm` (with a self-registered Conv2DBackpropFilter so training works), else `cpu`.
 * `TFJS_BACKEND` or an explicit argument overrides; an explicitly requested backend that cannot
 * load is an error, never a silent fallback. The devices TensorFlow computes on are reported
 * with the backend: the GPU build runs on the CPU when the host has no usable GPU, and says so.
 * On x86-64 the native backend runs TensorFlow's oneDNN kernels (`TF_ENABLE_ONEDNN_OPTS=1`)
 * unless the environment says otherwise: TensorFlow switches them on by itself only on CPUs with
 * AVX-512 VNNI/BF16 or AMX, and without them a training step on an AVX2-only CPU is ≈ 1.4× slower
 * (docs/speed.md#onednn-on-avx2).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PROJECT_ROOT } from './config/stack';
import { registerNativeTrainingKernels } from './native-training-kernels';
import { registerWasmTrainingKernels } from './wasm-training-kernels';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type NativePackage = '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';
export interface BackendInfo {
  backend: BackendName;
  /** Version of the TensorFlow C library behind the native backend; the tfjs version otherwise. */
  tfVersion: string;
  tfjsVersion: string;
  /** The native package loaded (native backend only). */
  nativePackage?: NativePackage;
  /** What TensorFlow computes on: `["GPU:0 <name>", …]` or `["CPU"]`. */
  devices: string[];
  /** TensorFlow's oneDNN CPU kernels: the value of TF_ENABLE_ONEDNN_OPTS it loaded with (native backend; absent = unset, TensorFlow decides by the CPU). */
  oneDnnOpts?: string;
  /** Why a fallback happened, when one did (another backend, or the GPU build on the CPU). */
  fallbackReason?: string;
}

const require = createRequire(import.meta.url);
let active: BackendInfo | undefined;

/** Where `infra/install-tfjs-native.sh --gpu` builds @tensorflow/tfjs-node-gpu (CC2D_GPU_PREFIX, default .tools/gpu). */
export function gpuPackageDir(): string {
  const prefix = process.env.CC2D_GPU_PREFIX || path.join(PROJECT_ROOT, '.tools', 'gpu');
  return path.join(path.resolve(prefix), 'node_modules', '@tensorflow', 'tfjs-node-gpu');
}

const firstLine = (err: unknown): string => String((err as Error).message ?? err).split('\n')[0] ?? '';

function parseRequested(value: string | undefined): BackendName | 'auto' {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'tensorflow' || value === 'wasm' || value === 'cpu') return value;
  throw new Error(`TFJS_BACKEND: expected one of tensorflow|wasm|cpu|auto, got "${value}"`);
}

interface NativeLoad {
  tfVersion: string;
  nativePackage: NativePackage;
  devices: string[];
  oneDnnOpts?: string;
  /** The GPU build failed to load, or loaded without a usable GPU. */
  gpuNote?: string;
}

/** GPU names from the driver (the binding only tells whether TensorFlow uses a GPU), in CUDA_VISIBLE_DEVICES order. */
function gpuNames(): string[] {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index,name', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    const rows = out.trim().split('\n').map((l) => l.split(',').map((c) => c.trim()));
    const visible = process.env.CUDA_VISIBLE_DEVICES?.split(',').map((v) => v.trim()).filter(Boolean);
    const picked = visible ? visible.flatMap((v) => rows.filter((r) => r[0] === v)) : rows;
    if (picked.length > 0) return picked.map((r, i) => `GPU:${i} ${r[1] ?? ''}`.trim());
  } catch {
    // no nvidia-smi: the device is still a GPU, only its name is unknown
  }
  return ['GPU:0'];
}

function loadNative(): NativeLoad {
  // Quiet the C library's start-up banner before it loads.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  // Read once by the C library when it loads; an explicit value (0 or 1) is left as it is. Not on
  // Windows, where the C runtime's getenv need not see a variable Node sets at run time.
  if (process.arch === 'x64' && process.platform !== 'win32') process.env.TF_ENABLE_ONEDNN_OPTS ??= '1';
  const oneDnnOpts = process.env.TF_ENABLE_ONEDNN_OPTS;
  let tfnode: typeof tf | undefined;
  let nativePackage: NativePackage = '@tensorflow/tfjs-node';
  let gpuNote: string | undefined;
  const gpuDir = gpuPackageDir();
  if (existsSync(path.join(gpuDir, 'lib', 'napi-v8', 'tfjs_binding.node'))) {
    try {
      tfnode = require(gpuDir) as typeof tf;
      nativePackage = '@tensorflow/tfjs-node-gpu';
    } catch (err) {
      gpuNote = `GPU build at ${gpuDir} not loadable (${firstLine(err)}); using @tensorflow/tfjs-node on the CPU`;
    }
  }
  tfnode ??= require('@tensorflow/tfjs-node') as typeof tf;
  if (tfnode.engine() !== tf.engine()) {
    throw new Error(`${nativePackage} resolved a second copy of tfjs-core; dedupe node_modules`);
  }
  registerNativeTrainingKernels();
  const backend = tf.backend() as unknown as { binding?: { TF_Version?: string }; isUsingGpuDevice?: boolean };
  const onGpu = backend.isUsingGpuDevice === true;
  if (nativePackage === '@tensorflow/tfjs-node-gpu' && !onGpu) {
    gpuNote = 'GPU build loaded but TensorFlow found no usable GPU (no NVIDIA driver or device, or CUDA libraries missing): running on the CPU';
  }
  return { tfVersion: backend.binding?.TF_Version ?? 'unknown', nativePackage, devices: onGpu ? gpuNames() : ['CPU'], ...(oneDnnOpts !== undefined ? { oneDnnOpts } : {}), ...(gpuNote ? { gpuNote } : {}) };
}

async function loadWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(dist + path.sep);
  registerWasmTrainingKernels();
}

/** Selects and initialises the backend once per process; later calls return the same info. */
export async function initBackend(requested: string | undefined = process.env.TFJS_BACKEND): Promise<BackendInfo> {
  const want = parseRequested(requested);
  if (active) {
    if (want !== 'auto' && want !== active.backend) {
      throw new Error(`backend ${active.backend} is already active; cannot switch to ${want} in this process`);
    }
    return active;
  }
  let fallbackReason: string | undefined;
  let name: BackendName = 'cpu';
  let tfVersion = tf.version.tfjs;
  let native: NativeLoad | undefined;
  if (want === 'tensorflow' || want === 'auto') {
    try {
      native = loadNative();
      tfVersion = native.tfVersion;
      fallbackReason = native.gpuNote;
      name = 'tensorflow';
    } catch (err) {
      if (want === 'tensorflow') throw new Error(`native tensorflow backend unavailable: ${(err as Error).message}`);
      fallbackReason = `native addon not loadable (${firstLine(err)}); run infra/install-tfjs-native.sh`;
    }
  }
  if (name !== 'tensorflow' && (want === 'wasm' || want === 'auto')) {
    await loadWasm();
    name = 'wasm';
  }
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend(${name}) failed`);
  await tf.ready();
  active = {
    backend: name, tfVersion, tfjsVersion: tf.version.tfjs,
    ...(native ? { nativePackage: native.nativePackage } : {}),
    ...(native?.oneDnnOpts !== undefined ? { oneDnnOpts: native.oneDnnOpts } : {}),
    devices: native?.devices ?? ['CPU'],
    ...(fallbackReason ? { fallbackReason } : {}),
  };
  if (fallbackReason) {
    console.warn(native ? `[cc2d] TF backend tensorflow on ${native.devices.join(', ')}: ${fallbackReason}` : `[cc2d] TF backend fell back to ${name}: ${fallbackReason}`);
  }
  return active;
}

export function activeBackend(): BackendInfo | undefined {
  return active;
}
