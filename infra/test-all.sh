#!/usr/bin/env bash
# `npm run test:all` — the project's test command, and what CI runs: install (idempotent),
# start the real Temporal + S3 stack if it is not up, doctor, typecheck, lint, the whole test
# suite against the stack (strict: nothing it needs may be missing), then stop the stack if this
# script started it. Test workflows run in the Temporal namespace cc2d-test, not the user's.
# ISBI_DIR defaults to ../shared/datasets/isbi2015_ceph beside the project.
source "$(dirname "$0")/stack-session.sh"
export ISBI_DIR="${ISBI_DIR:-$ROOT/../shared/datasets/isbi2015_ceph}"
# As strict as CI: a test file whose server, dataset, browser or native TF backend is missing
# fails (naming what and how to install it) instead of skipping (test/support/strict.ts).
export CC2D_TEST_STRICT=1
trap 'rc=$?; stop_stack_if_ours; step "done (exit $rc)"; exit $rc' EXIT

step "cc2d doctor"
node bin/cc2d.mjs doctor </dev/null || echo "[test-all] doctor reported a problem (see above); the tests will show its effect" >&2

step "typecheck + lint"
static_rc=0
npx tsc --noEmit -p . </dev/null || static_rc=$?
npx eslint . </dev/null || static_rc=$?

step "tests (ISBI_DIR=$ISBI_DIR)"
test_rc=0
# Guard against a hung suite: CI must finish well inside 30 minutes.
timeout --kill-after=30s 25m npx vitest run </dev/null || test_rc=$?
if [[ $test_rc != 0 ]]; then echo "[test-all] tests failed (exit $test_rc)" >&2; exit "$test_rc"; fi
if [[ $static_rc != 0 ]]; then echo "[test-all] typecheck or lint failed (exit $static_rc)" >&2; exit "$static_rc"; fi
echo "[test-all] all green" >&2
