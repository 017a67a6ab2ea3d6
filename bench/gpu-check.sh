#!/usr/bin/env bash
# The first thing a GPU worker host runs, after `npm run setup -- --gpu`: `cc2d doctor`, then 20
# SSL and 20 TPL training steps at paper-profile shapes (bench/bench.ts on synthetic images).
# Prints one JSON line: the devices TensorFlow computes on, the doctor's verdicts, step times and
# GFLOP/s. Exit 1 when TensorFlow does not compute on a GPU (the line is printed anyway).
#   bench/gpu-check.sh [bench options, e.g. --ssl-batch 4 --tpl-batch-pseudo 2 for a small GPU]
# GPU_CHECK_STEPS overrides the 20 steps.
set -euo pipefail
cd "$(dirname "$0")/.."
# Temporal and S3 may be remote or not configured yet: the doctor's verdicts are reported, the
# check itself is about the device.
doctor=$(node bin/cc2d.mjs doctor --json 2>/dev/null | tail -n1) || true
bench=$(npx tsx bench/bench.ts --profiles paper --steps "${GPU_CHECK_STEPS:-20}" --json "$@" | tail -n1)
node -e '
  const parse = (s) => { try { return JSON.parse(s); } catch { return undefined; } };
  const doctor = parse(process.argv[1]) ?? {};
  const bench = parse(process.argv[2]);
  if (!bench) { console.error("gpu-check: bench/bench.ts printed no JSON line"); process.exit(1); }
  const step = (s) => ({ batch: s.batch, steps: s.steps, medianStepS: s.medianStepS, gflopPerStep: s.gflopPerStep, gflopPerS: s.gflopPerS });
  const onGpu = bench.devices.some((d) => d.startsWith("GPU"));
  console.log(JSON.stringify({
    check: "gpu-host", at: new Date().toISOString(), onGpu, devices: bench.devices, backend: bench.backend, tfVersion: bench.tfVersion,
    doctor: { ok: doctor.ok ?? false, temporal: doctor.temporal, s3: doctor.s3, backend: doctor.backend, nativePackage: doctor.nativePackage, devices: doctor.devices },
    profile: "paper", ssl: step(bench.ssl.paper), tpl: step(bench.tpl.paper), peakRssMiB: bench.peakRssMiB.paper, machine: bench.machine,
  }));
  process.exit(onGpu ? 0 : 1);
' "$doctor" "$bench"
