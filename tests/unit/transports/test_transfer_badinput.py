"""Bad archives: one clear InvalidArgument each, and nothing stored (no image, no blob, no ingest file)."""

from __future__ import annotations

import io
import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

import pytest
from archive_helpers import (
    Stored,
    archive,
    config_for,
    layer_tar,
    read_members,
    sha,
    store_is_empty,
)
from click.testing import CliRunner

from dockyard.cli.main import cli
from dockyard.engine import transfer
from dockyard.errors import InvalidArgument
from dockyard.store import Store

Edit = Callable[[dict[str, bytes], str], None]


def _saved(stored: Stored) -> tuple[dict[str, bytes], str]:
    out = io.BytesIO()
    transfer.save(stored.store, ["app:1"], cast(BinaryIO, out))
    members = {k: v for k, v in read_members(out.getvalue()).items() if not k.endswith("/")
               and k not in ("blobs", "blobs/sha256")}
    layer_path = json.loads(members["manifest.json"])[0]["Layers"][0]
    return members, layer_path


def _corrupt_blob(members: dict[str, bytes], layer: str) -> None:
    data = bytearray(members[layer])
    data[600] ^= 0xFF  # inside the first file's body: still a tar, different digest
    members[layer] = bytes(data)


def _drop_blob(members: dict[str, bytes], layer: str) -> None:
    del members[layer]


def _bad_repotag(members: dict[str, bytes], layer: str) -> None:
    manifest = json.loads(members["manifest.json"])
    manifest[0]["RepoTags"] = ["Bad_Name:tag"]
    members["manifest.json"] = json.dumps(manifest).encode()


def _null_manifest(members: dict[str, bytes], layer: str) -> None:
    members["manifest.json"] = b"null"


def _layer_count(members: dict[str, bytes], layer: str) -> None:
    manifest = json.loads(members["manifest.json"])
    manifest[0]["Layers"] = [layer, layer]
    members["manifest.json"] = json.dumps(manifest).encode()


def _manifest_escapes(members: dict[str, bytes], layer: str) -> None:
    manifest = json.loads(members["manifest.json"])
    manifest[0]["Layers"] = ["../../etc/passwd"]
    members["manifest.json"] = json.dumps(manifest).encode()


CASES: dict[str, tuple[Edit, str]] = {
    "blob digest mismatch": (_corrupt_blob, "does not match its digest"),
    "manifest names a missing blob": (_drop_blob, "has no layer"),
    "invalid RepoTags": (_bad_repotag, "invalid image reference 'Bad_Name:tag'"),
    "null manifest": (_null_manifest, "manifest cannot be null"),
    "layer count mismatch": (_layer_count, "layers length mismatch: expected 1, got 2"),
    "manifest path leaves the archive": (_manifest_escapes, "outside the archive"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_docker_archive(case: str, stored: Stored, new_store: Store) -> None:
    edit, message = CASES[case]
    members, layer = _saved(stored)
    edit(members, layer)
    data = archive(list(members.items()))
    with pytest.raises(InvalidArgument, match=message):
        transfer.load(new_store, cast(BinaryIO, io.BytesIO(data)))
    assert store_is_empty(new_store)


def test_truncated_archive(stored: Stored, new_store: Store) -> None:
    members, _ = _saved(stored)
    data = archive(list(members.items()))
    with pytest.raises(InvalidArgument, match="truncated"):
        transfer.load(new_store, cast(BinaryIO, io.BytesIO(data[: len(data) // 2 + 100])))
    assert store_is_empty(new_store)


def test_entry_with_dotdot_path(stored: Stored, new_store: Store) -> None:
    members, _ = _saved(stored)
    data = archive([("../../etc/passwd", b"root::0:0::/:/bin/sh\n"), *members.items()])
    with pytest.raises(InvalidArgument, match=r"'\.\./\.\./etc/passwd' points outside the archive"):
        transfer.load(new_store, cast(BinaryIO, io.BytesIO(data)))
    assert store_is_empty(new_store)


def test_symlink_out_of_the_archive(new_store: Store) -> None:
    layer = layer_tar({"f": b"x"})
    config = config_for([sha(layer)])
    manifest = [{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["l/layer.tar"]}]
    data = archive([("c.json", config), ("l/layer.tar", "->../../../etc/shadow"),
                    ("manifest.json", json.dumps(manifest).encode())])
    with pytest.raises(InvalidArgument, match="outside the archive"):
        transfer.load(new_store, cast(BinaryIO, io.BytesIO(data)))
    assert store_is_empty(new_store)


def test_layer_not_matching_diff_id(new_store: Store) -> None:
    layer = layer_tar({"f": b"x" * 3_000_000})  # big enough to be spooled into ingest/
    config = config_for([sha(layer_tar({"f": b"other"}))])
    manifest = [{"Config": "c.json", "RepoTags": ["x:1"], "Layers": ["l/layer.tar"]}]
    data = archive([("l/layer.tar", layer), ("c.json", config),
                    ("manifest.json", json.dumps(manifest).encode())])
    with pytest.raises(InvalidArgument, match="invalid diffID for layer 0"):
        transfer.load(new_store, cast(BinaryIO, io.BytesIO(data)))
    assert store_is_empty(new_store)


@pytest.mark.parametrize("data", [b"this is not a tar archive at all\n" * 40, b"\x1f\x8b\x08garbage"])
def test_not_a_tar(data: bytes, new_store: Store) -> None:
    with pytest.raises(InvalidArgument, match="not a tar archive|cannot read the archive"):
        transfer.load(new_store, cast(BinaryIO, io.BytesIO(data)))
    assert store_is_empty(new_store)


def test_empty_input_and_unknown_layout(new_store: Store) -> None:
    with pytest.raises(InvalidArgument, match="empty"):
        transfer.load(new_store, cast(BinaryIO, io.BytesIO(b"")))
    with pytest.raises(InvalidArgument, match="unrecognized image format"):
        transfer.load(new_store, cast(BinaryIO, io.BytesIO(archive([("hello.txt", b"hi")]))))
    assert store_is_empty(new_store)


def test_cli_reports_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--root", str(tmp_path / "s"), "load"],
                                input=b"definitely not an archive" * 30)
    assert result.exit_code == 125
    assert result.output.startswith("Error: the input is not a tar archive")
    assert "Traceback" not in result.output


def test_save_into_a_fifo_writes_it_and_keeps_it(stored: Stored, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = CliRunner().invoke(cli, ["--root", str(stored.store.root), "save", "-o", str(fifo),
                                      "app:1"])
    reader.join(timeout=30)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # written into, never replaced by a file
    assert "manifest.json" in read_members(received[0])


def test_save_to_an_unwritable_path_is_one_error_line(stored: Stored) -> None:
    result = CliRunner().invoke(cli, ["--root", str(stored.store.root), "save", "-o",
                                      "/proc/self/dockyard-save.tar", "app:1"])
    assert result.exit_code == 125
    assert result.output.startswith("Error: failed to save image: cannot write /proc/self/")
    assert "Traceback" not in result.output
