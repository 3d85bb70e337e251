"""What a build was asked for besides its context and Dockerfile (a light module: the CLI and
the no-change replay import it without the executor)."""

from __future__ import annotations

from dockyard.errors import InvalidArgument


class BuildOptions:
    """The options of one build (a plain class: `dataclasses` costs ~10 ms to import here, and
    a no-change build needs nothing else that uses it)."""

    def __init__(
        self, tags: list[str] | None = None, build_args: dict[str, str] | None = None,
        target: str | None = None, no_cache: bool = False, labels: dict[str, str] | None = None,
        network: str = "default", platform: str | None = None, runtime: str | None = None,
        secrets: dict[str, bytes] | None = None,
    ) -> None:  # fmt: skip
        self.tags: list[str] = tags if tags is not None else []
        self.build_args: dict[str, str] = build_args if build_args is not None else {}
        self.target = target
        self.no_cache = no_cache
        self.labels: dict[str, str] = labels if labels is not None else {}
        self.network = network
        self.platform = platform
        self.runtime = runtime
        self.secrets: dict[str, bytes] = secrets if secrets is not None else {}  # --secret id

    def __repr__(self) -> str:  # secrets left out, as the dataclass did (repr=False)
        return (f"BuildOptions(tags={self.tags!r}, build_args={self.build_args!r},"
                f" target={self.target!r}, no_cache={self.no_cache!r}, labels={self.labels!r},"
                f" network={self.network!r}, platform={self.platform!r},"
                f" runtime={self.runtime!r})")  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BuildOptions):
            return NotImplemented
        return vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]


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
