#!/usr/bin/env bash
# Builds the @tensorflow/tfjs-node native addon from source against libtensorflow taken from
# the PyPI tensorflow wheel. The package's own installer downloads from a CDN that this
# machine cannot reach, so package.json blocks its install script ("allowScripts") and this
# script points install.js at an unreachable custom-binary URL, which makes it build from
# source and never download.
#   infra/install-tfjs-native.sh          CPU: tensorflow-cpu wheel (this machine, CI)
#   infra/install-tfjs-native.sh --gpu    GPU worker hosts: tensorflow[and-cuda] wheel + CUDA 12 /
#                                         cuDNN 9 wheels; same binding (tfjs-node-gpu is identical)
source "$(dirname "$0")/lib.sh"
variant=cpu
[[ "${1:-}" == "--gpu" ]] && variant=gpu
PKG="$ROOT/node_modules/@tensorflow/tfjs-node"
[[ -d "$PKG" ]] || { log "node_modules/@tensorflow/tfjs-node missing: run 'npm ci' first"; exit 1; }
marker="$PKG/deps/.cc2d-built-$variant-$TF_WHEEL_VERSION"
if [[ -f "$marker" && -f "$PKG/lib/napi-v8/tfjs_binding.node" ]] && \
   (cd "$ROOT" && node -e "require('@tensorflow/tfjs-node')" >/dev/null 2>&1); then
  log "tfjs-node native addon already built ($variant, TF $TF_WHEEL_VERSION)"
  exit 0
fi
whl_dir="$TOOLS/whl"; mkdir -p "$whl_dir"
if [[ $variant == cpu ]]; then
  wheel_pkg=tensorflow-cpu; wheel_glob="tensorflow_cpu-$TF_WHEEL_VERSION-*.whl"
else
  wheel_pkg=tensorflow; wheel_glob="tensorflow-$TF_WHEEL_VERSION-*.whl"
fi
if ! compgen -G "$whl_dir/$wheel_glob" >/dev/null; then
  log "downloading $wheel_pkg==$TF_WHEEL_VERSION wheel (PyPI)"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_27_x86_64 --python-version 3.11 "$wheel_pkg==$TF_WHEEL_VERSION" -d "$whl_dir"
fi
wheel=$(compgen -G "$whl_dir/$wheel_glob" | head -n1)
tf="$TOOLS/tf-$variant"; rm -rf "$tf"; mkdir -p "$tf"
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
# An unreachable tf-lib URL with no "addon" entry makes install.js build from source.
echo '{"tf-lib":"http://127.0.0.1:9/unused"}' > "$PKG/scripts/custom-binary.json"
log "building tfjs-node addon from source ($variant)"
( cd "$PKG" && PATH="$ROOT/node_modules/.bin:$PATH" npm_config_nodedir="$(npm config get nodedir)" \
  node scripts/install.js "$variant" >&2 )
( cd "$ROOT" && node -e "const tf=require('@tensorflow/tfjs-node'); if (tf.getBackend()!=='tensorflow') process.exit(1); console.error('[infra] tfjs-node backend', tf.getBackend(), 'TF', tf.version.tfjs)" )
touch "$marker"
