#!/usr/bin/env bash
# `npm start` — the main job on the embedded default: installs (idempotent), starts the local
# Temporal + S3 stack (left running, so the dashboard and `cc2d runs list` can show the run),
# hosts a local worker and runs the pipeline on the dataset at ISBI_DIR with the quick `smoke`
# profile. Extra arguments go to `cc2d run` (e.g. `npm start -- --profile cpu`).
source "$(dirname "$0")/stack-session.sh"
export ISBI_DIR="${ISBI_DIR:-$ROOT/../shared/datasets/isbi2015_ceph}"
step "cc2d run --profile smoke --dataset $ISBI_DIR $*"
exec node bin/cc2d.mjs run --profile smoke --dataset "$ISBI_DIR" "$@"
