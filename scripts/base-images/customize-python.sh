#!/bin/sh
# mmdebstrap customize hook for python:3.11-slim: pip trusts the system CA bundle (which
# holds the host's extra certificates), and pip runs as root like in the official image.
# $1 is the chroot directory.
set -eu
root="$1"

cat > "$root/etc/pip.conf" <<'CONF'
[global]
cert = /etc/ssl/certs/ca-certificates.crt
CONF
chmod 0644 "$root/etc/pip.conf"

# Debian marks its Python as externally managed (PEP 668) and pip then refuses to install
# outside a venv; the official image has no such marker. dpkg's path-exclude keeps it
# from being installed; make sure no copy is left either way.
rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED

# Sanity check: the interpreter, pip and venv work inside the image.
chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin python -c 'import ensurepip, pip, ssl, venv' 
