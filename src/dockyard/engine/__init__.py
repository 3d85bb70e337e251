"""The facade the CLI and the HTTP API call: plain strings in, plain data out (a module per area)."""

from __future__ import annotations

from pathlib import Path

from dockyard.store import Store


def open_store(root: Path | str) -> Store:
    """The store at `root` (created on first use; InvalidArgument if it is not one)."""
    return Store(root)
