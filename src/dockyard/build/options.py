"""What a build was asked for besides its context and Dockerfile (a light module: the CLI and
the no-change replay import it without the executor)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument


@dataclass
class BuildOptions:
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "default"
    platform: str | None = None
    runtime: str | None = None
    secrets: dict[str, bytes] = field(default_factory=dict, repr=False)  # --secret id -> value


def network_mode(value: str) -> str:
    """--network / RUN --network value -> default | host | none."""
    mode = (value or "default").lower()
    if mode in ("default", "bridge"):
        return "default"
    if mode in ("host", "none"):
        return mode
    raise InvalidArgument(
        f"network mode {value!r} not supported for build",
        hint="use --network default (bridge with NAT), host or none",
    )
