#!/usr/bin/env bash
# Layer commit of 200 MiB (random and text-like): dockyard vs podman commit, docker commit and
# tar | pigz, in one run (installs docker.io with apt if missing; runs a private dockerd).
# Usage: bench/bench_layer_commit.sh [--rounds N] [--mib N] [--only dockyard,podman,docker,tar|pigz]
#        bench/bench_layer_commit.sh --quick     (dockyard only)
# State under $BASE (default /tmp/bench-commit), kept between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/bench_layer_commit.py "$@"
