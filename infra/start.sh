#!/usr/bin/env bash
# `npm start` — the main job on the embedded default: installs (idempotent), starts the local
# Temporal + S3 stack (left running, so the dashboard and `cc2d runs list` can show the run),
# hosts a local worker and runs the pipeline on the dataset at ISBI_DIR with the `quick` profile
# (about six minutes on two cores, measured), then says where to read the report and what to do next.
# Extra arguments go to `cc2d run` (e.g. `npm start -- --profile cpu`).
source "$(dirname "$0")/stack-session.sh"
export ISBI_DIR="${ISBI_DIR:-$ROOT/../shared/datasets/isbi2015_ceph}"
run_id="quickstart-$(date -u +%Y%m%d-%H%M%S)"
for a in "$@"; do [[ $a == --run-id* ]] && run_id=""; done
args=(--profile quick --dataset "$ISBI_DIR" "$@")
[[ -n $run_id ]] && args=(--run-id "$run_id" "${args[@]}")
step "cc2d run ${args[*]}"
rc=0
node bin/cc2d.mjs run "${args[@]}" || rc=$?
if [[ $rc == 0 && -n $run_id ]]; then
  cat <<NEXT

Next:
  npx cc2d report $run_id --out $run_id.html   # the run's self-contained HTML report
  npx cc2d dashboard                             # every run, live progress, links to the reports
  npx cc2d runs list                             # the same from the terminal
  npx cc2d site add NAME --dir DIR --template ID # onboard your own images (README: Onboard a site)
  npx cc2d dev down                              # stop the local servers
NEXT
fi
exit $rc
