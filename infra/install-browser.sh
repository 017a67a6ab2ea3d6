#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser test (test/dashboard/), driven
# headless by playwright-core (which never downloads a browser itself). Idempotent: does
# nothing when /usr/bin/chromium (or $CC2D_CHROMIUM) is already there. Needs root (or sudo)
# and access to the apt mirrors.
source "$(dirname "$0")/lib.sh"
CHROMIUM="${CC2D_CHROMIUM:-/usr/bin/chromium}"
if [[ -x "$CHROMIUM" ]]; then
  log "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi
SUDO=""
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null || { log "need root or sudo to apt-get install chromium"; exit 1; }
  SUDO="sudo"
fi
log "installing chromium with apt-get (Debian package, headless use by playwright-core)"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
test -x "$CHROMIUM"
log "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
