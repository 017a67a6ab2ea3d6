/**
 * The one place that chooses the TensorFlow.js backend.
 *
 * Order: `tensorflow` (native addon of @tensorflow/tfjs-node, built by infra/install-tfjs-native.sh)
 * when it loads, else `wasm` (with a self-registered Conv2DBackpropFilter so training works),
 * else `cpu`. `TFJS_BACKEND` or an explicit argument overrides; an explicitly requested backend
 * that cannot load is an error, never a silent fallback.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerNativeTrainingKernels } from './native-training-kernels';
import { registerWasmTrainingKernels } from './wasm-training-kernels';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export interface BackendInfo {
  backend: BackendName;
  /** Version of the TensorFlow C library behind the native backend; the tfjs version otherwise. */
  tfVersion: string;
  tfjsVersion: string;
  /** Why a fallback happened, when one did. */
  fallbackReason?: string;
}

const require = createRequire(import.meta.url);
let active: BackendInfo | undefined;

function parseRequested(value: string | undefined): BackendName | 'auto' {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'tensorflow' || value === 'wasm' || value === 'cpu') return value;
  throw new Error(`TFJS_BACKEND: expected one of tensorflow|wasm|cpu|auto, got "${value}"`);
}

function loadNative(): string {
  // Quiet the C library's start-up banner before it loads.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
  const tfnode = require('@tensorflow/tfjs-node') as typeof tf;
  if (tfnode.engine() !== tf.engine()) {
    throw new Error('@tensorflow/tfjs-node resolved a second copy of tfjs-core; dedupe node_modules');
  }
  registerNativeTrainingKernels();
  const binding = (tf.backend() as unknown as { binding?: { TF_Version?: string } }).binding;
  return binding?.TF_Version ?? 'unknown';
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
  if (want === 'tensorflow' || want === 'auto') {
    try {
      tfVersion = loadNative();
      name = 'tensorflow';
    } catch (err) {
      if (want === 'tensorflow') throw new Error(`native tensorflow backend unavailable: ${(err as Error).message}`);
      fallbackReason = `native addon not loadable (${(err as Error).message.split('\n')[0]}); run infra/install-tfjs-native.sh`;
    }
  }
  if (name !== 'tensorflow' && (want === 'wasm' || want === 'auto')) {
    await loadWasm();
    name = 'wasm';
  }
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend(${name}) failed`);
  await tf.ready();
  active = { backend: name, tfVersion, tfjsVersion: tf.version.tfjs, ...(fallbackReason ? { fallbackReason } : {}) };
  if (fallbackReason) console.warn(`[cc2d] TF backend fell back to ${name}: ${fallbackReason}`);
  return active;
}

export function activeBackend(): BackendInfo | undefined {
  return active;
}
