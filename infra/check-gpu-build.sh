#!/usr/bin/env bash
# Proves the GPU worker build on a machine WITHOUT a GPU (run by hand, not part of CI: the CUDA /
# cuDNN wheels are about 2 GB):
#   1. `infra/install-tfjs-native.sh --gpu` into $CC2D_GPU_PREFIX (default .tools/gpu): timed, and
#      the disk its wheels and its build use (--fresh: delete the prefix first, so the time
#      includes the downloads);
#   2. infra/tf-backend.ts picks that build, and with no usable GPU runs on the CPU and says so;
#   3. the ML unit tests (test/ml) pass on it (strict: the native backend must have loaded, and
#      it must be the tfjs-node-gpu build).
# The last line of stdout is one JSON object with the measurements. Exit 1 when a step failed.
#   infra/check-gpu-build.sh [--fresh]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
fresh=0
for arg in "$@"; do
  case "$arg" in
    --fresh) fresh=1 ;;
    *) log "unknown option: $arg (expected --fresh)"; exit 2 ;;
  esac
done
export CC2D_GPU_PREFIX="$GPU_PREFIX"
[[ $fresh == 1 ]] && rm -rf "$GPU_PREFIX"
mib() { if [[ -e "$1" ]]; then du -sm "$1" | cut -f1; else echo 0; fi; }

t0=$(date +%s)
build=ok
bash infra/install-tfjs-native.sh --gpu || build=fail
build_s=$(( $(date +%s) - t0 ))
wheels_mib=$(mib "$GPU_PREFIX/whl")
build_mib=$(mib "$GPU_PREFIX/node_modules")

backend_json='{}'
if [[ $build == ok ]]; then
  # The backend as every cc2d process would pick it (its fallback message goes to stderr).
  backend_json=$(npx tsx -e "
    import('./infra/tf-backend.ts').then(async ({ initBackend }) => {
      const i = await initBackend();
      console.log(JSON.stringify({ backend: i.backend, tfVersion: i.tfVersion, nativePackage: i.nativePackage ?? null, devices: i.devices, message: i.fallbackReason ?? null }));
    });
  " | tail -n1) || backend_json='{}'
fi

ml=skipped; ml_s=0
if [[ $build == ok ]]; then
  t1=$(date +%s)
  if CC2D_TEST_STRICT=1 CC2D_EXPECT_NATIVE_PACKAGE=@tensorflow/tfjs-node-gpu npx vitest run test/ml test/infra/tf-backend.test.ts >&2; then ml=pass; else ml=fail; fi
  ml_s=$(( $(date +%s) - t1 ))
fi

node -e '
  const [build, buildS, wheelsMiB, buildMiB, backend, ml, mlS, prefix] = process.argv.slice(1);
  console.log(JSON.stringify({ check: "gpu-build", at: new Date().toISOString(), prefix, build, buildS: Number(buildS),
    diskMiB: { wheels: Number(wheelsMiB), build: Number(buildMiB) }, ...JSON.parse(backend), mlTests: ml, mlTestsS: Number(mlS) }));
' "$build" "$build_s" "$wheels_mib" "$build_mib" "$backend_json" "$ml" "$ml_s" "$GPU_PREFIX"
[[ $build == ok && $ml == pass ]]
