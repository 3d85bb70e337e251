"""TLS for registries as Docker does it: the system CAs, plus `certs.d/<host:port>/` extras.

Under each certs directory (`/etc/docker/certs.d`, `/etc/containers/certs.d`, or
`$DOCKYARD_CERTS_D`, colon-separated), a directory named like the registry host holds
`*.crt` files (extra CA roots) and `NAME.cert` + `NAME.key` pairs (client certificates).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    import ssl

DEFAULT_CERTS_DIRS = (Path("/etc/docker/certs.d"), Path("/etc/containers/certs.d"))


def certs_dirs_from_env() -> tuple[Path, ...]:
    env = os.environ.get("DOCKYARD_CERTS_D")
    if env:
        return tuple(Path(p) for p in env.split(":") if p)
    return DEFAULT_CERTS_DIRS


def tls_files(host: str, dirs: Iterable[Path]) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """(CA files, client cert/key pairs) for `host` (e.g. `registry:5000`)."""
    cas: list[Path] = []
    pairs: list[tuple[Path, Path]] = []
    for base in dirs:
        d = base / host  # named exactly host[:port]
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            if f.suffix == ".crt":
                cas.append(f)
            elif f.suffix == ".cert":
                key = f.with_suffix(".key")
                if not key.is_file():
                    raise InvalidArgument(
                        f"client certificate {f} has no key {key.name}",
                        hint=f"put the key next to it as {key}",
                    )
                pairs.append((f, key))
    return cas, pairs


def ssl_context(host: str, dirs: Iterable[Path], verify: bool) -> ssl.SSLContext:
    """A client context: system CAs + the host's certs.d CAs and client certificate.

    Without verification (an insecure registry) the system CAs are not loaded at all:
    reading them costs tens of milliseconds of every command's start. `ssl` itself is
    imported here, when a TLS connection is really made (it loads libssl).
    """
    import ssl

    if verify:
        ctx = ssl.create_default_context()
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    cas, pairs = tls_files(host, dirs)
    try:
        for ca in cas:
            ctx.load_verify_locations(cafile=str(ca))
        for cert, key in pairs[:1]:
            ctx.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        raise InvalidArgument(
            f"cannot use the TLS files for {host}: {exc}",
            hint="check the certificates under " + " or ".join(str(Path(d) / host) for d in dirs),
        ) from exc
    return ctx


def is_untrusted_certificate(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) is a failed certificate verification."""
    ssl = sys.modules.get("ssl")  # not imported: no TLS connection was made, none failed
    verify_error = ssl.SSLCertVerificationError if ssl is not None else ()
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, verify_error) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
