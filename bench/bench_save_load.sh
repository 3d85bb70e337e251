#!/usr/bin/env bash
# dockyard save/load vs podman save/load and skopeo copy of a ~1 GB image, in one run.
# Usage: bench/bench_save_load.sh [--size-mb N] [--rounds N]   (state under $BASE, default /tmp/bench-saveload)
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/bench_save_load.py "$@"
