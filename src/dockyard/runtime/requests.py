"""Parse `docker run` option values: -v specs, --restart, -e/--env-file, labels."""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.errors import InvalidArgument, NotFound
from dockyard.records import FrozenRecord
from dockyard.runtime.bundle import MountSpec


class RestartPolicy(FrozenRecord):
    """`--restart`: when a container that exited is started again."""

    def __init__(
        self, name: str = "no",  # no | always | unless-stopped | on-failure
        max_retries: int = 0,
    ) -> None:  # fmt: skip
        self.name = name
        self.max_retries = max_retries

    def to_json(self) -> dict[str, object]:
        """As a container stores it (read back with `RestartPolicy(**d)`)."""
        return self.fields()

    def should_restart(self, exit_code: int, restart_count: int, stopped_by_user: bool) -> bool:
        if stopped_by_user or self.name == "no":
            return False
        if self.name == "on-failure":
            return exit_code != 0 and (self.max_retries == 0 or restart_count < self.max_retries)
        return True


def parse_restart(value: str | None) -> RestartPolicy:
    text = (value or "no").strip()
    name, _, count = text.partition(":")
    if name not in ("no", "always", "unless-stopped", "on-failure"):
        raise InvalidArgument(f"invalid restart policy {text!r}",
                              hint="use no, always, unless-stopped or on-failure[:N]")  # fmt: skip
    if count and name != "on-failure":
        raise InvalidArgument(f"maximum retry count cannot be used with restart policy '{name}'",
                              hint="only on-failure takes :N")  # fmt: skip
    try:
        retries = int(count) if count else 0
    except ValueError:
        raise InvalidArgument(f"invalid restart policy {text!r}: bad retry count",
                              hint="use on-failure:3") from None  # fmt: skip
    return RestartPolicy(name, retries)


def parse_volume(spec: str) -> MountSpec:
    """`-v`: /host:/ctr[:ro|rw], name:/ctr[:ro], or /ctr (an anonymous volume)."""
    parts = spec.split(":")
    if len(parts) == 1:
        dest, src, mode = parts[0], "", ""
    elif len(parts) == 2:
        src, dest, mode = parts[0], parts[1], ""
    elif len(parts) == 3:
        src, dest, mode = parts
    else:
        raise InvalidArgument(f"invalid volume specification: '{spec}'",
                              hint="use -v /host/path:/container/path[:ro] or -v name:/path")  # fmt: skip
    if not dest.startswith("/"):
        raise InvalidArgument(
            f"invalid volume specification: '{spec}': invalid mount config: "
            "mount path must be absolute",
            hint="the part after ':' must be an absolute path inside the container",
        )
    opts = set(mode.split(",")) if mode else set()
    if opts - {"ro", "rw", "z", "Z", "rprivate", "private", "shared", "rshared", "slave", "rslave"}:
        raise InvalidArgument(f"invalid mode: {mode}", hint="use ro or rw")
    readonly = "ro" in opts
    if not src:
        return MountSpec("", dest, readonly, "volume", None)
    if src.startswith("/") or src.startswith("."):
        host = Path(src).absolute()
        if not host.exists():
            raise NotFound(
                f"invalid mount config for type \"bind\": bind source path does not exist: {host}",
                hint="create the host directory first, or fix the path",
            )
        return MountSpec(str(host), dest, readonly, "bind")
    return MountSpec("", dest, readonly, "volume", src)


def parse_env(env: list[str], env_files: list[str]) -> list[str]:
    """--env-file entries first, then -e; `KEY` alone takes the value from our environment."""
    out: list[str] = []
    for name in env_files:
        try:
            lines = Path(name).read_text().splitlines()
        except OSError as exc:
            raise NotFound(f"open {name}: no such file or directory",
                           hint="check the --env-file path") from exc  # fmt: skip
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                out += _one_env(line)
    for item in env:
        out += _one_env(item)
    return out


def _one_env(item: str) -> list[str]:
    key, sep, _ = item.partition("=")
    if not key.strip():
        raise InvalidArgument(f"invalid environment variable: {item}", hint="use KEY=VALUE")
    if sep:
        return [item]
    value = os.environ.get(key)
    return [] if value is None else [f"{key}={value}"]


def parse_labels(labels: list[str]) -> dict[str, str]:
    out = {}
    for item in labels:
        key, _, value = item.partition("=")
        out[key] = value
    return out
