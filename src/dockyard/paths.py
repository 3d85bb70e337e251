"""Where dockyard keeps things by default, for root and for an unprivileged (rootless) user.

root: the store in /var/lib/dockyard, runtime state in /run/dockyard. Anyone else, as rootless
Podman does: the store in $XDG_DATA_HOME/dockyard (~/.local/share/dockyard), runtime state in
$XDG_RUNTIME_DIR/dockyard (/tmp/dockyard-run-UID when there is no usable runtime dir).
`--root` / DOCKYARD_ROOT and DOCKYARD_RUN_DIR override them. stdlib only.
"""

from __future__ import annotations

import os
from pathlib import Path

SYSTEM_ROOT = "/var/lib/dockyard"
SYSTEM_RUN_DIR = "/run/dockyard"


def rootless(euid: int | None = None) -> bool:
    """True when dockyard runs without root privileges (effective uid not 0)."""
    return (os.geteuid() if euid is None else euid) != 0


def default_root(euid: int | None = None) -> str:
    """The store root when neither --root nor DOCKYARD_ROOT names one."""
    if not rootless(euid):
        return SYSTEM_ROOT
    data_home = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(data_home):
        data_home = os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data_home, "dockyard")


def run_dir(euid: int | None = None) -> Path:
    """Runtime state that lives as long as the machine is up (port reservations, sockets)."""
    given = os.environ.get("DOCKYARD_RUN_DIR", "")
    if given:
        return Path(given)
    if not rootless(euid):
        return Path(SYSTEM_RUN_DIR)
    uid = os.geteuid() if euid is None else euid
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(xdg) and _owned_dir(xdg, uid):
        return Path(xdg) / "dockyard"
    return Path(f"/tmp/dockyard-run-{uid}")


def _owned_dir(path: str, uid: int) -> bool:
    try:
        return os.stat(path).st_uid == uid
    except OSError:
        return False
