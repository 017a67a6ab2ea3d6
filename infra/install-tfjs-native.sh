#!/usr/bin/env bash
# Builds the TensorFlow.js native addon from source against libtensorflow taken from a PyPI
# tensorflow wheel. The packages' own installer downloads from a CDN that this machine cannot
# reach, so package.json blocks its install script ("allowScripts") and this script points
# install.js at an unreachable custom-binary URL, which makes it build from source and never
# download.
#   infra/install-tfjs-native.sh          CPU: @tensorflow/tfjs-node in node_modules against the
#                                         tensorflow-cpu wheel (this machine, CI)
#   infra/install-tfjs-native.sh --gpu    GPU worker hosts: @tensorflow/tfjs-node-gpu (same version
#                                         as tfjs-node, fetched with `npm pack`) in $GPU_PREFIX
#                                         (default .tools/gpu) against the tensorflow wheel, with
#                                         the CUDA / cuDNN wheels of its [and-cuda] extra beside
#                                         libtensorflow, where the wheel's RUNPATH looks for them
source "$(dirname "$0")/lib.sh"
variant=cpu
[[ "${1:-}" == "--gpu" ]] && variant=gpu
CPU_PKG="$ROOT/node_modules/@tensorflow/tfjs-node"
[[ -d "$CPU_PKG" ]] || { log "node_modules/@tensorflow/tfjs-node missing: run 'npm ci' first"; exit 1; }

if [[ $variant == cpu ]]; then
  PKG="$CPU_PKG"; whl_dir="$TOOLS/whl"
  wheel_pkg=tensorflow-cpu; wheel_glob="tensorflow_cpu-$TF_WHEEL_VERSION-*.whl"
  loads="require('@tensorflow/tfjs-node')"
  load_check="const tf=require('@tensorflow/tfjs-node'); if (tf.getBackend()!=='tensorflow') process.exit(1); console.error('[infra] tfjs-node backend', tf.getBackend(), 'TF', tf.version.tfjs)"
else
  # Its dependencies (tfjs-core, node-pre-gyp, ...) are tfjs-node's, resolved from the project's
  # node_modules: the prefix must sit inside the project so that resolution walks up to it.
  case "$GPU_PREFIX/" in "$ROOT"/*) ;; *) log "CC2D_GPU_PREFIX must be inside $ROOT (its package resolves the project's node_modules)"; exit 1 ;; esac
  PKG="$GPU_PREFIX/node_modules/@tensorflow/tfjs-node-gpu"; whl_dir="$GPU_PREFIX/whl"
  wheel_pkg=tensorflow; wheel_glob="tensorflow-$TF_WHEEL_VERSION-*.whl"
  loads="require('$PKG')"
  # Loading needs no GPU: without one TensorFlow places every op on the CPU.
  load_check="const tf=require('$PKG'); if (tf.getBackend()!=='tensorflow') process.exit(1); console.error('[infra] tfjs-node-gpu backend', tf.getBackend(), 'TF', tf.version.tfjs, tf.backend().isUsingGpuDevice ? 'on a GPU' : 'on the CPU (no usable GPU here)')"
fi
marker="$PKG/deps/.cc2d-built-$variant-$TF_WHEEL_VERSION"
if [[ -f "$marker" && -f "$PKG/lib/napi-v8/tfjs_binding.node" ]] && (cd "$ROOT" && node -e "$loads" >/dev/null 2>&1); then
  log "tfjs native addon already built ($variant, TF $TF_WHEEL_VERSION)"
  exit 0
fi

# pip_download <dir> <requirement>... [--platform <older manylinux tag>...]: binary wheels for Linux
# x86_64, CPython 3.11, without dependencies.
pip_download() {
  local dir=$1; shift
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_27_x86_64 --python-version 3.11 "$@" -d "$dir"
}

mkdir -p "$whl_dir"
if [[ $variant == gpu ]]; then
  tfjs_version=$(node -p "require('$CPU_PKG/package.json').version")
  if [[ ! -f "$PKG/package.json" ]] || [[ $(node -p "require('$PKG/package.json').version") != "$tfjs_version" ]]; then
    log "fetching @tensorflow/tfjs-node-gpu@$tfjs_version (npm pack; its install script is never run)"
    tgz=$(cd "$whl_dir" && npm pack --silent "@tensorflow/tfjs-node-gpu@$tfjs_version" | tail -n1)
    rm -rf "$PKG"; mkdir -p "$PKG"
    tar -xzf "$whl_dir/$tgz" -C "$PKG" --strip-components=1
    rm -f "$whl_dir/$tgz"
  fi
fi
if ! compgen -G "$whl_dir/$wheel_glob" >/dev/null; then
  log "downloading $wheel_pkg==$TF_WHEEL_VERSION wheel (PyPI)"
  pip_download "$whl_dir" "$wheel_pkg==$TF_WHEEL_VERSION"
fi
wheel=$(compgen -G "$whl_dir/$wheel_glob" | head -n1)
tf="$TOOLS/tf-$variant"; [[ $variant == gpu ]] && tf="$GPU_PREFIX/tf-extract"
rm -rf "$tf"; mkdir -p "$tf"
python3 - "$wheel" "$tf" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for n in z.namelist():
        if n in ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2') or n.startswith('tensorflow/include/'):
            z.extract(n, out)
PY
rm -rf "$PKG/deps"; mkdir -p "$PKG/deps/lib" "$PKG/deps/include"
cp "$tf"/tensorflow/lib*.so.2 "$PKG/deps/lib/"
cp -r "$tf"/tensorflow/include/. "$PKG/deps/include/"
rm -rf "$tf"
( cd "$PKG/deps/lib" && ln -sf libtensorflow_cc.so.2 libtensorflow.so && ln -sf libtensorflow_framework.so.2 libtensorflow_framework.so \
  && ln -sf libtensorflow_cc.so.2 libtensorflow.so.2.9.1 )  # the last link only satisfies install.js's "already downloaded" check
# TF_NewTensor lives in libtensorflow_framework, the eager API in libtensorflow_cc.
n=$(nm -D --defined-only "$PKG/deps/lib/libtensorflow_cc.so.2" "$PKG/deps/lib/libtensorflow_framework.so.2" | grep -cE ' T (TF_NewTensor|TFE_Execute|TFE_NewContext)(@@tensorflow)?$' || true)
[[ "$n" == 3 ]] || { log "libtensorflow_cc.so.2 and libtensorflow_framework.so.2 do not export the TF C API (found $n of 3 symbols)"; exit 1; }
hdr="$PKG/deps/include/tensorflow/core/platform/ctstring_internal.h"
if [[ ! -f "$hdr" ]]; then
  mkdir -p "$(dirname "$hdr")"; echo '#include "tsl/platform/ctstring_internal.h"' > "$hdr"
fi

if [[ $variant == gpu ]]; then
  # The [and-cuda] extra gives ranges; the lower bounds are the versions TensorFlow was built
  # against, pinned here so every host gets the same libraries.
  mapfile -t cuda_reqs < <(python3 - "$wheel" <<'PY'
import re, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    meta = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))
    for line in z.read(meta).decode().splitlines():
        m = re.match(r'Requires-Dist: (nvidia-[\w-]+)\s*[^;]*?>=([\w.]+).*extra == "and-cuda"', line)
        if m: print(f'{m.group(1)}=={m.group(2)}')
PY
  )
  [[ ${#cuda_reqs[@]} -gt 0 ]] || { log "$wheel lists no nvidia-* requirement under its [and-cuda] extra"; exit 1; }
  missing=()
  for req in "${cuda_reqs[@]}"; do
    name=${req%%==*}; version=${req#*==}
    compgen -G "$whl_dir/${name//-/_}-$version-*.whl" >/dev/null || missing+=("$req")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    log "downloading ${#missing[@]} CUDA / cuDNN wheels (PyPI): ${missing[*]}"
    # The NVIDIA wheels of these versions are tagged manylinux2014 / manylinux_2_17.
    pip_download "$whl_dir" "${missing[@]}" --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
  fi
  # libtensorflow's RUNPATH has $ORIGIN/../nvidia/<lib>/lib: deps/nvidia next to deps/lib.
  python3 - "$PKG/deps" "$whl_dir" "${cuda_reqs[@]}" <<'PY'
import glob, os, sys, zipfile
out, whl_dir, reqs = sys.argv[1], sys.argv[2], sys.argv[3:]
for req in reqs:
    name, version = req.split('==')
    wheel = glob.glob(os.path.join(whl_dir, f"{name.replace('-', '_')}-{version}-*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if info.filename.startswith('nvidia/') and not info.is_dir():
                path = z.extract(info, out)
                if info.external_attr >> 16 & 0o111:
                    os.chmod(path, 0o755)  # ptxas and friends
PY
fi

# An unreachable tf-lib URL with no "addon" entry makes install.js build from source.
echo '{"tf-lib":"http://127.0.0.1:9/unused"}' > "$PKG/scripts/custom-binary.json"
log "building the tfjs native addon from source ($variant)"
( cd "$PKG" && PATH="$ROOT/node_modules/.bin:$PATH" npm_config_nodedir="$(npm config get nodedir)" \
  node scripts/install.js "$variant" >&2 )
( cd "$ROOT" && node -e "$load_check" )
touch "$marker"
