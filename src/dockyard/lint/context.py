"""What the context-aware rules know about the build context: its files and `.dockerignore`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LintContext:
    """The build context as the linter sees it; filled by the caller (the CLI or the builder).

    `paths` are relative, `/`-separated paths of files and directories (directories end in
    `/`). `dockerignore` is None when the context has no `.dockerignore` file, else its patterns.
    `is_ignored` answers whether a context path is excluded by `.dockerignore`.
    `listed` is False when no build context was read (the context rules then do not run) and
    the context only carries `base_env`: given a base image reference, the `KEY=value` ENV of
    that image when the caller has it (the local store), else None.
    """

    paths: list[str] = field(default_factory=list)
    dockerignore: list[str] | None = None
    is_ignored: Callable[[str], bool] = lambda _path: False
    listed: bool = True
    base_env: Callable[[str], list[str] | None] | None = None

    def has(self, path: str) -> bool:
        path = path.strip("/")
        return path in self._set or f"{path}/" in self._set

    def is_dir(self, path: str) -> bool:
        path = path.strip("/")
        while path.startswith("./"):
            path = path[2:]
        return f"{path}/" in self._set

    @property
    def _set(self) -> set[str]:
        cached: set[str] | None = getattr(self, "_cache", None)
        if cached is None:
            cached = set(self.paths)
            object.__setattr__(self, "_cache", cached)
        return cached

    def top_level(self) -> list[str]:
        return [p for p in self.paths if "/" not in p.rstrip("/")]


# Directories whose presence matters but whose contents the linter never needs to list.
HEAVY_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache",
              ".pytest_cache", ".hg", ".svn"}  # fmt: skip
MAX_ENTRIES = 50_000


def from_directory(
    context_dir: Path,
    dockerfile: Path | None = None,
    base_env: Callable[[str], list[str] | None] | None = None,
) -> LintContext:
    """Read a build context directory (names only, never file contents) for the context rules."""
    from dockyard.dockerfile.ignore import PatternMatcher, ignore_file_for

    has_ignore = (context_dir / ".dockerignore").is_file() or (
        dockerfile is not None
        and dockerfile.with_name(dockerfile.name + ".dockerignore").is_file()
    )
    patterns = ignore_file_for(context_dir, dockerfile) if has_ignore else None
    matcher = PatternMatcher(patterns or [])
    paths: list[str] = []
    for top, dirs, files in os.walk(context_dir):
        rel = os.path.relpath(top, context_dir)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        for d in list(dirs):
            paths.append(f"{prefix}{d}/")
            if d in HEAVY_DIRS:
                dirs.remove(d)
        paths.extend(prefix + f for f in files)
        if len(paths) > MAX_ENTRIES:
            break

    def is_ignored(path: str) -> bool:
        return bool(patterns) and matcher.matches_or_parent_matches(path.rstrip("/"))

    return LintContext(
        paths=paths, dockerignore=patterns, is_ignored=is_ignored, base_env=base_env
    )
