"""What the context-aware rules know about the build context: its files and `.dockerignore`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LintContext:
    """The build context as the linter sees it; filled by the caller (the CLI or the builder).

    `paths` are relative, `/`-separated paths of files and directories (directories end in
    `/`). `dockerignore` is None when the context has no `.dockerignore` file, else its patterns.
    `is_ignored` answers whether a context path is excluded by `.dockerignore`.
    """

    paths: list[str] = field(default_factory=list)
    dockerignore: list[str] | None = None
    is_ignored: Callable[[str], bool] = lambda _path: False

    def has(self, path: str) -> bool:
        path = path.strip("/")
        return path in self._set or f"{path}/" in self._set

    @property
    def _set(self) -> set[str]:
        cached: set[str] | None = getattr(self, "_cache", None)
        if cached is None:
            cached = set(self.paths)
            object.__setattr__(self, "_cache", cached)
        return cached

    def top_level(self) -> list[str]:
        return [p for p in self.paths if "/" not in p.rstrip("/")]
