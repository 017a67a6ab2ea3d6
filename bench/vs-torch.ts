/**
 * `npm run bench -- --vs-torch`: runs the PyTorch yardstick (torch_ref's bench.py: the same SSL
 * and TPL nets, batches and input size in PyTorch on the CPU) right after the project's bench, in
 * the same session, and prints the ratio per stage. Not part of CI; skipped with a message when
 * the tool or torch is missing. The tool's folder is CC2D_TORCH_REF, else ../shared/tools/torch_ref
 * beside the repository; it runs with CC2D_TORCH_PYTHON (default /usr/bin/python3, Debian's, which
 * sees the apt-installed torch) from two folders up (the folder its own paths are relative to).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shapes torch_ref's `--profile` names stand for. */
const TORCH_PROFILES: Record<string, { name: string; size: number; width: number; sslBatch: number; tplBatch: number }> = {
  cpu: { name: 'lite', size: 192, width: 0.25, sslBatch: 8, tplBatch: 4 },
  paper: { name: 'paper', size: 384, width: 1, sslBatch: 8, tplBatch: 4 },
};

/** What the project's bench measured for one profile (a subset of its result). */
export interface OwnResult {
  profile: string;
  inputSize: number;
  ssl: { medianStepS: number; batch: number; width: number; withoutRfb?: { medianStepS: number; gflopPerStep: number } };
  tpl: { medianStepS: number; batch: number; width: number; inferPerImageS: number };
}

interface TorchLine {
  net: 'ssl' | 'tpl';
  step_ms: number;
  batch: number;
  /** Forward FLOPs × 3 of one step as torch_ref counts them. */
  flops_step?: number;
  infer_ms_per_image?: number;
}

export interface StageRatio {
  stage: string;
  cc2dMs: number;
  torchMs: number;
  /** Throughput of cc2d relative to PyTorch: > 1 means cc2d is faster. */
  speedup: number;
}

function torchDir(): string {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  return path.resolve(process.env.CC2D_TORCH_REF ?? path.join(repo, '..', 'shared', 'tools', 'torch_ref'));
}

/** Runs torch_ref for each profile it knows; returns the ratios, or undefined when skipped. */
export function compareWithTorch(results: readonly OwnResult[]): Record<string, StageRatio[]> | undefined {
  const dir = torchDir();
  const python = process.env.CC2D_TORCH_PYTHON ?? '/usr/bin/python3';
  if (!fs.existsSync(path.join(dir, 'bench.py'))) {
    console.log(`vs-torch: skipped: no bench.py in ${dir} (set CC2D_TORCH_REF)`);
    return undefined;
  }
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    console.log(`vs-torch: skipped: ${python} cannot import torch (apt-get install python3-torch python3-numpy python3-pil)`);
    return undefined;
  }
  const out: Record<string, StageRatio[]> = {};
  for (const r of results) {
    const tp = TORCH_PROFILES[r.profile];
    if (!tp) {
      console.log(`vs-torch: profile ${r.profile} has no torch_ref counterpart; skipped`);
      continue;
    }
    if (tp.size !== r.inputSize || tp.width !== r.ssl.width || tp.width !== r.tpl.width) {
      console.log(`vs-torch: profile ${r.profile} is ${r.inputSize}/×${r.ssl.width}, torch_ref ${tp.name} is ${tp.size}/×${tp.width}; skipped`);
      continue;
    }
    const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');
    console.log(`vs-torch: ${python} bench.py --profile ${tp.name} --what ssl tpl (load ${load()}) …`);
    const run = spawnSync(python, [path.join(dir, 'bench.py'), '--profile', tp.name, '--what', 'ssl', 'tpl'], {
      cwd: path.resolve(dir, '..', '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 2 ** 20,
    });
    if (run.status !== 0) {
      console.log(`vs-torch: torch_ref exited with ${run.status ?? run.signal}; skipped`);
      continue;
    }
    const lines = run.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TorchLine);
    const ssl = lines.find((l) => l.net === 'ssl');
    const tpl = lines.find((l) => l.net === 'tpl');
    const ratios: StageRatio[] = [];
    const add = (stage: string, cc2dMs: number, torchMs: number | undefined, sameBatch: boolean) => {
      if (torchMs === undefined) return;
      if (!sameBatch) {
        console.log(`vs-torch: ${r.profile} ${stage}: batches differ (torch_ref uses its own); no ratio`);
        return;
      }
      ratios.push({ stage, cc2dMs: Math.round(cc2dMs), torchMs: Math.round(torchMs), speedup: Number((torchMs / cc2dMs).toFixed(2)) });
    };
    add('SSL step', r.ssl.medianStepS * 1000, ssl?.step_ms, ssl?.batch === r.ssl.batch);
    // torch_ref's SSL net has no RFB blocks: the same step without them is the net-for-net ratio.
    if (r.ssl.withoutRfb && ssl?.flops_step) {
      console.log(`vs-torch: ${r.profile} SSL GFLOP/step without RFB: cc2d ${r.ssl.withoutRfb.gflopPerStep.toFixed(1)}, torch_ref ${(ssl.flops_step / 1e9).toFixed(1)}`);
    }
    if (r.ssl.withoutRfb) add('SSL step, no RFB (torch_ref\'s net)', r.ssl.withoutRfb.medianStepS * 1000, ssl?.step_ms, ssl?.batch === r.ssl.batch);
    add('TPL step', r.tpl.medianStepS * 1000, tpl?.step_ms, tpl?.batch === r.tpl.batch);
    add('TPL inference / image', r.tpl.inferPerImageS * 1000, tpl?.infer_ms_per_image, true);
    console.log(`vs-torch ${r.profile} (torch_ref ${tp.name}; load after ${load()}): speedup = torch ms / cc2d ms`);
    console.table(ratios);
    out[r.profile] = ratios;
  }
  return out;
}
