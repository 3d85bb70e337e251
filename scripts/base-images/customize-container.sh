#!/bin/sh
# mmdebstrap customize hook for every base image: container apt settings, no host
# identity left in /etc, and the host's extra CA certificates (a TLS-intercepting proxy's)
# installed where Debian's ca-certificates picks them up. $1 is the chroot directory.
set -eu
root="$1"
here="$(dirname "$(readlink -f "$0")")"

install -m 0644 "$here/container.apt.conf" "$root/etc/apt/apt.conf.d/docker-container"

# apt's binary caches describe package lists that mmdebstrap removes; they are rebuilt
# on the next "apt-get update" (tens of MB otherwise).
rm -f "$root"/var/cache/apt/*.bin

# The runtime bind-mounts these; a copy of the build host's would only leak its identity.
rm -f "$root/etc/resolv.conf" "$root/etc/hostname"

ca_src="${BASE_IMAGES_CA_DIR:-/usr/local/share/ca-certificates}"
mkdir -p "$root/usr/local/share/ca-certificates"
if [ -d "$ca_src" ]; then
  find "$ca_src" -maxdepth 1 -type f -name '*.crt' -exec install -m 0644 {} "$root/usr/local/share/ca-certificates/" \;
fi
if [ -x "$root/usr/sbin/update-ca-certificates" ]; then
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || chroot "$root" update-ca-certificates
fi
