#!/usr/bin/env bash
# Installs what dockyard needs on a fresh Debian machine: apt packages and a venv in .venv.
# Idempotent: each half is skipped when its inputs have not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"   # "test" to also install the test tools

pkgs=$(grep -v '^\s*#' scripts/apt-packages.txt | xargs)
stamp_dir=.venv/.stamps
installed=$(dpkg-query -W -f='${Status}\n' $pkgs 2>/dev/null | grep -c '^install ok installed' || true)
if [ "$installed" -lt "$(echo $pkgs | wc -w)" ]; then
  if [ "$(id -u)" != 0 ]; then echo "install-deps: need root to apt-get install: $pkgs" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq $pkgs >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
mkdir -p "$stamp_dir"
want="pyproject.toml:$(sha256sum pyproject.toml | cut -c1-16):$extra"
if [ "$(cat "$stamp_dir/pip" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip >/dev/null
  if [ "$extra" = test ]; then
    .venv/bin/pip install -q -e '.[test]'
  else
    .venv/bin/pip install -q -e .
  fi
  echo "$want" > "$stamp_dir/pip"
fi

if [ "$extra" = test ]; then
  # The lint tests validate SARIF output against the official schema, cached outside the repo.
  bash scripts/fetch-sarif-schema.sh >/dev/null
fi
