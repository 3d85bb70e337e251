#!/usr/bin/env bash
# Runs every dockyard benchmark against its peers, one after the other (see bench/README.md).
set -uo pipefail
cd "$(dirname "$0")/.."
unset PYTHONDONTWRITEBYTECODE
py=.venv/bin/python
status=0
for step in \
  "$py bench/bench_parser.py" \
  "$py bench/bench_lint.py" \
  "$py bench/bench_run.py" \
  "$py bench/bench_build.py" \
  "bash bench/bench_layer_commit.sh" \
  "bash bench/bench_save_load.sh" \
  "$py bench/bench_registry.py"; do
  printf '\n######## %s\n' "$step"
  $step || { echo "bench step failed: $step" >&2; status=1; }
done
exit $status
