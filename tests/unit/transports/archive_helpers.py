"""Builders for save/load tests: layer tars, archives, configs (imported by the tests)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

from dockyard.store import Store


@dataclass
class Stored:
    """A store and the ID of the image the `stored` fixture put in it."""

    store: Store
    image_id: str


def layer_tar(files: dict[str, bytes]) -> bytes:
    """A small uncompressed layer tar of regular files (sorted, fixed mtimes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = 1_700_000_000
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def archive(entries: list[tuple[str, bytes | str]]) -> bytes:
    """A tar of (name, bytes) files and (name, "->target") symlinks, in the given order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if isinstance(data, str):
                info.type = tarfile.SYMTYPE
                info.linkname = data[2:]
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def config_for(diff_ids: list[str], **extra: object) -> bytes:
    body = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids}, **extra}
    return json.dumps(body, sort_keys=True).encode()


def read_members(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: (tf.extractfile(m).read() if m.isfile() else b"")  # type: ignore[union-attr]
                for m in tf.getmembers()}




def store_is_empty(store: Store) -> bool:
    """No image, no blob, nothing left in ingest/."""
    return (not store.images.list() and not store.content.list()
            and not any((store.root / "ingest").iterdir()))
