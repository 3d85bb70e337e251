"""What a build was asked for besides its context and Dockerfile (a light module: the CLI and
the no-change replay import it without the executor)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
