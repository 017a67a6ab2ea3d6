/**
 * Sums oneDNN's own primitive execution times from an ONEDNN_VERBOSE=1 log (not a test; run by hand):
 *   ONEDNN_VERBOSE=1 npx tsx bench/profiling/ssl-step.ts cpu 4 > /tmp/v.log 2>&1
 *   npx tsx bench/profiling/onednn-summary.ts /tmp/v.log [steps=4]
 * Prints ms per step by (primitive, implementation, propagation kind), largest first, and the
 * total: the time the kernels spent inside oneDNN, without TF's dispatch, allocation and the
 * work TF does itself. Divides by `steps` (every step in the log, warm-up included).
 */
import { readFileSync } from 'node:fs';

const [file, stepsArg] = process.argv.slice(2);
if (!file) throw new Error('usage: onednn-summary.ts <ONEDNN_VERBOSE log> [steps=4]');
const steps = Number(stepsArg ?? 4);
const totals = new Map<string, { ms: number; calls: number }>();
for (const line of readFileSync(file, 'utf8').split('\n')) {
  // onednn_verbose,v1,primitive,exec,cpu,<primitive>,<implementation>,<prop kind>,…,<ms>
  if (!line.startsWith('onednn_verbose,v1,primitive,exec,')) continue;
  const f = line.split(',');
  const key = `${f[5]} ${f[6]} ${f[7]}`;
  const t = totals.get(key) ?? { ms: 0, calls: 0 };
  t.ms += Number(f[f.length - 1]);
  t.calls += 1;
  totals.set(key, t);
}
const rows = [...totals].sort((a, b) => b[1].ms - a[1].ms);
for (const [key, t] of rows) console.log(`${(t.ms / steps).toFixed(1).padStart(8)} ms/step ${(t.calls / steps).toFixed(1).padStart(7)} calls/step  ${key}`);
console.log(`${(rows.reduce((a, [, t]) => a + t.ms, 0) / steps).toFixed(1).padStart(8)} ms/step in oneDNN primitives`);
