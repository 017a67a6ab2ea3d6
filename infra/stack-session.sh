# Sourced by infra/test-all.sh and infra/start.sh: installs everything (idempotent) and brings the
# local stack up, remembering whether this script started it so that it stops only what it started.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
started_at=$SECONDS
step() { printf '\n=== [+%ss] %s\n' "$((SECONDS - started_at))" "$*" >&2; }

step "npm run setup (Temporal + SeaweedFS wheels, native TF build, chromium)"
bash infra/setup.sh </dev/null

we_started_stack=0
stack_running() {
  node bin/cc2d.mjs dev status --json 2>/dev/null | tail -n 1 |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);process.exit(j.temporal.state==="running"&&j.s3.state==="running"?0:1)}catch{process.exit(1)}})'
}
stop_stack_if_ours() {
  if [[ $we_started_stack == 1 ]]; then
    step "cc2d dev down"
    node bin/cc2d.mjs dev down </dev/null || echo "[infra] dev down failed (ignored)" >&2
  fi
}
if stack_running; then
  step "local stack already running: using it (and leaving it running); cc2d dev up only applies the namespace setup"
else
  step "cc2d dev up"
  we_started_stack=1
fi
# Also on a running stack: it creates what a stack started by an older version lacks (e.g. the
# tests' namespace cc2d-test and its search attributes).
node bin/cc2d.mjs dev up </dev/null
