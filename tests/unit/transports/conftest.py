"""Fixtures for save/load tests: a store with a small imported image, and an empty one."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from archive_helpers import Stored, layer_tar

from dockyard.engine.image_import import import_image
from dockyard.store import Store


@pytest.fixture
def new_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "dest")
    yield store
    store.close()


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[Stored]:
    """A store holding `app:1` (two files) imported from a rootfs tar."""
    store = Store(tmp_path / "src")
    rootfs = layer_tar({"etc/hello": b"hello\n", "bin/tool": b"\x7fELF" + b"x" * 5000})
    image_id = import_image(store, io.BytesIO(rootfs), "app:1", changes=["CMD [\"tool\"]"])
    yield Stored(store, image_id)
    store.close()
