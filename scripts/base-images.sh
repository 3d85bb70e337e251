#!/usr/bin/env bash
# Makes the offline stand-ins for `debian:bookworm-slim` and `python:3.11-slim` from Debian's
# packages with mmdebstrap, caches each rootfs tarball outside the clone (keyed by a hash of
# its recipe, so it is built once per machine), and imports it into the dockyard store.
#
# usage: scripts/base-images.sh [--tarballs-only] [--print] [--force-import]
#   --tarballs-only  build/cache the tarballs but do not import them
#   --print          print "NAME<TAB>TARBALL<TAB>CHANGES-FILE" for each image (after building)
#   --force-import   import even when the store already has the name
# env: DOCKYARD_ROOT (store root, default /var/lib/dockyard), DOCKYARD_BASE_CACHE (default
#      /var/cache/dockyard/base), DOCKYARD (the CLI, default .venv/bin/dockyard),
#      BASE_IMAGES_SOURCES (a sources.list/.sources file, default the host's Debian one),
#      SOURCE_DATE_EPOCH (default: the mirror's Release date), http_proxy/https_proxy.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
recipes="$repo/scripts/base-images"
root="${DOCKYARD_ROOT:-/var/lib/dockyard}"
cache="${DOCKYARD_BASE_CACHE:-/var/cache/dockyard/base}"
dockyard="${DOCKYARD:-$repo/.venv/bin/dockyard}"
suite=bookworm

tarballs_only=0 print=0 force_import=0
for arg in "$@"; do
  case "$arg" in
    --tarballs-only) tarballs_only=1 ;;
    --print) print=1 ;;
    --force-import) force_import=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "base-images: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "base-images: $*" >&2; }
die() { log "error: $*"; exit 1; }

# The apt sources to build from: the host's own Debian mirror configuration.
sources_file() {
  if [ -n "${BASE_IMAGES_SOURCES:-}" ]; then echo "$BASE_IMAGES_SOURCES"; return; fi
  local f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [ -s "$f" ] && grep -qE "^[^#]*\b$suite\b" "$f"; then echo "$f"; return; fi
  done
  echo ""  # mmdebstrap's default: deb.debian.org with updates and security
}

# Hash of everything that decides an image's content: this script, the shared recipe
# files, the image's own recipe (not the other images'), the mirror configuration, the
# host's extra CA certificates, the mmdebstrap version and the architecture.
recipe_key() {
  local recipe="$1" src
  src="$(sources_file)"
  {
    cat "$0"
    find "$recipes" -maxdepth 1 -type f ! -name '*.recipe' | LC_ALL=C sort | xargs cat
    cat "$recipe"
    [ -n "$src" ] && cat "$src"
    find "${BASE_IMAGES_CA_DIR:-/usr/local/share/ca-certificates}" -maxdepth 1 -type f \
      -name '*.crt' 2>/dev/null | LC_ALL=C sort | xargs -r cat
    mmdebstrap --version
    dpkg --print-architecture
  } | sha256sum | cut -c1-16
}

# SOURCE_DATE_EPOCH: the newest Release date of the host's lists for the suite, so that
# it is deterministic for a given mirror state and never older than a packaged file
# (clamping a .py's mtime would make Debian's compiled .pyc files stale).
source_date_epoch() {
  if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then echo "$SOURCE_DATE_EPOCH"; return; fi
  local d
  d=$(grep -h '^Date:' /var/lib/apt/lists/*_dists_"$suite"*_InRelease 2>/dev/null \
        | sed 's/^Date: //' | while read -r line; do date -d "$line" +%s; done \
        | sort -n | tail -1 || true)
  echo "${d:-$(date +%s)}"
}

# Upstream version of a package inside a rootfs tarball (3.11.2 for 3.11.2-6+deb12u6).
package_version() {
  tar -xOf "$1" ./var/lib/dpkg/status | awk -v p="$2" '
    $1 == "Package:" { cur = $2 } cur == p && $1 == "Version:" { print $2; exit }' \
    | sed -E 's/^[0-9]+://; s/-[^-]*$//'
}

build_image() {  # recipe slug key tarball
  local recipe="$1" slug="$2" key="$3" tarball="$4"
  local IMAGE INCLUDE DPKGOPTS HOOKS CHANGES VERSION_OF=""
  # shellcheck disable=SC1090
  source "$recipe"
  local src epoch tmp start args=()
  src="$(sources_file)"
  epoch="$(source_date_epoch)"
  tmp="$cache/.$slug-$key.tmp.$$"
  args=(--variant=minbase --format=tar --quiet
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
        --dpkgopt="$recipes/slim.dpkg.cfg")
  local opt hook
  for opt in "${DPKGOPTS[@]}"; do args+=(--dpkgopt="$opt"); done
  [ -n "$INCLUDE" ] && args+=(--include="$INCLUDE")
  for hook in "${HOOKS[@]}"; do args+=(--customize-hook="$recipes/$hook"); done
  if env | grep -qi '^https\?_proxy='; then log "using the proxy from the environment"; fi
  log "building $IMAGE with mmdebstrap (sources: ${src:-default}, SOURCE_DATE_EPOCH=$epoch)"
  start=$(date +%s)
  # Device nodes are left out (like the official images: the runtime provides /dev).
  # Its chatter goes to a log, shown only when the build fails.
  if ! SOURCE_DATE_EPOCH="$epoch" mmdebstrap "${args[@]}" "$suite" - ${src:+"$src"} 2>"$tmp.log" \
      | tar --delete -f - --wildcards './dev/?*' > "$tmp.tar"; then
    tail -n 40 "$tmp.log" >&2
    rm -f "$tmp.tar" "$tmp.log"
    die "mmdebstrap failed for $IMAGE (output above)"
  fi
  rm -f "$tmp.log"
  local version="" change
  [ -n "$VERSION_OF" ] && version="$(package_version "$tmp.tar" "$VERSION_OF")"
  for change in "${CHANGES[@]}"; do echo "${change//@VERSION@/$version}"; done > "$tmp.changes"
  mv "$tmp.changes" "${tarball%.tar}.changes"
  mv "$tmp.tar" "$tarball"
  log "built $IMAGE in $(( $(date +%s) - start ))s: $tarball ($(du -h "$tarball" | cut -f1))"
  # Older builds of the same image (other keys) are no longer needed.
  find "$cache" -maxdepth 1 -name "$slug-*" ! -name "$slug-$key.*" -delete
}

# Stamp of what this script imported into a store root: "KEY ID" per image.
stamp_file() {
  local slug="$1" id
  id=$(realpath -m "$root" | sha256sum | cut -c1-16)
  echo "$cache/imported/$id/$slug"
}

import_image() {  # name slug key tarball
  local name="$1" slug="$2" key="$3" tarball="$4" stamp current
  stamp="$(stamp_file "$slug")"
  current="$("$dockyard" --root "$root" images -q "$name" 2>/dev/null | head -1 || true)"
  if [ -n "$current" ] && [ "$force_import" = 0 ]; then
    local old_key="" old_id=""
    [ -f "$stamp" ] && read -r old_key old_id < "$stamp"
    # Re-import only an image this script put there from an older recipe.
    if [ "$old_key" = "$key" ] || [ "$old_id" != "$current" ]; then
      log "$name is already in $root ($current)"
      return
    fi
    log "$name in $root is from an older recipe; importing again"
  fi
  local changes=() line
  while IFS= read -r line; do changes+=(--change "$line"); done < "${tarball%.tar}.changes"
  log "importing $name into $root"
  "$dockyard" --root "$root" import "${changes[@]}" "$tarball" "$name" >/dev/null
  current="$("$dockyard" --root "$root" images -q "$name" | head -1)"
  [ -n "$current" ] || die "$name was imported but 'dockyard images -q $name' does not show it"
  mkdir -p "$(dirname "$stamp")"
  echo "$key $current" > "$stamp"
  realpath -m "$root" > "$(dirname "$stamp")/root"
}

# Forget the stamps of store roots that no longer exist (test roots, removed stores).
prune_stamps() {
  local dir
  for dir in "$cache"/imported/*/; do
    [ -f "$dir/root" ] || continue
    [ -d "$(cat "$dir/root")" ] || rm -rf "$dir"
  done
}

main() {
  [ "$(id -u)" = 0 ] || die "building base images needs root (mmdebstrap, chroot)"
  command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
  mkdir -p "$cache"
  local can_import=1
  if [ "$tarballs_only" = 1 ]; then
    can_import=0
  elif ! "$dockyard" import --help >/dev/null 2>&1; then
    can_import=0
    log "'dockyard import' is not available yet: caching the tarballs only"
  fi
  local recipe slug key tarball names=() slugs=() keys=() tarballs=() recipe_files=()
  for recipe in "$recipes"/*.recipe; do
    slug="$(basename "$recipe" .recipe)"
    key="$(recipe_key "$recipe")"
    recipe_files+=("$recipe") slugs+=("$slug") keys+=("$key")
    names+=("$(bash -c 'source "$1"; echo "$IMAGE"' _ "$recipe")")
    tarballs+=("$cache/$slug-$key.tar")
  done
  local i missing=0
  for i in "${!tarballs[@]}"; do [ -s "${tarballs[$i]}" ] || missing=1; done
  if [ "$missing" = 1 ]; then
    # One builder per machine at a time (a second caller waits and reuses the result);
    # the images are built side by side: each is mostly waiting on downloads and dpkg.
    exec 9>"$cache/.lock"
    flock 9
    local pids=() failed=0
    for i in "${!tarballs[@]}"; do
      [ -s "${tarballs[$i]}" ] && continue
      build_image "${recipe_files[$i]}" "${slugs[$i]}" "${keys[$i]}" "${tarballs[$i]}" &
      pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || failed=1; done
    flock -u 9
    [ "$failed" = 0 ] || die "building the base images failed"
  fi
  [ "$can_import" = 1 ] && prune_stamps
  for i in "${!tarballs[@]}"; do
    tarball="${tarballs[$i]}"
    if [ "$can_import" = 1 ]; then import_image "${names[$i]}" "${slugs[$i]}" "${keys[$i]}" "$tarball"; fi
    if [ "$print" = 1 ]; then printf '%s\t%s\t%s\n' "${names[$i]}" "$tarball" "${tarball%.tar}.changes"; fi
  done
}

main
