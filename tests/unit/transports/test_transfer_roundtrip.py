"""save writes Docker 25's combined layout; load reads it back (file, pipe, gzip) with the same image ID."""

from __future__ import annotations

import gzip
import io
import json
import os
import threading
from pathlib import Path
from typing import BinaryIO, cast

from archive_helpers import Stored, read_members, store_is_empty
from click.testing import CliRunner

from dockyard.cli.main import cli
from dockyard.engine import transfer
from dockyard.store import Store


def _save(stored: Stored, refs: list[str]) -> bytes:
    out = io.BytesIO()
    transfer.save(stored.store, refs, cast(BinaryIO, out))
    return out.getvalue()


def test_save_writes_oci_layout_and_docker_manifest(stored: Stored, conformance_dir: Path) -> None:
    members = read_members(_save(stored, ["app:1"]))
    image = stored.store.image("app:1")
    hex_id = image.id.split(":")[1]
    diff_hex = image.diff_ids[0].split(":")[1]
    assert json.loads(members["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    assert members[f"blobs/sha256/{hex_id}"] == image.config_bytes

    manifest_json = json.loads(members["manifest.json"])
    facts = json.loads((conformance_dir / "docker-archive-format.json").read_text())
    example = facts["example_manifest_json_modern"][0]
    assert set(manifest_json[0]) == set(example)  # Config, RepoTags, Layers, LayerSources
    assert manifest_json[0]["Config"] == f"blobs/sha256/{hex_id}"
    assert manifest_json[0]["RepoTags"] == ["app:1"]
    assert manifest_json[0]["Layers"] == [f"blobs/sha256/{diff_hex}"]
    assert json.loads(members["repositories"]) == {"app": {"1": diff_hex}}

    index = json.loads(members["index.json"])
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    (entry,) = index["manifests"]
    assert entry["annotations"] == {"io.containerd.image.name": "docker.io/library/app:1",
                                    "org.opencontainers.image.ref.name": "1"}
    manifest = json.loads(members["blobs/sha256/" + entry["digest"].split(":")[1]])
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["digest"] == image.id
    assert [d["digest"] for d in manifest["layers"]] == image.diff_ids
    layer = members[f"blobs/sha256/{diff_hex}"]
    assert "sha256:" + __import__("hashlib").sha256(layer).hexdigest() == image.diff_ids[0]


def test_round_trip_keeps_image_id_names_and_layers(stored: Stored, new_store: Store) -> None:
    stored.store.images.tag("app:extra", stored.store.image("app:1").manifest_digest)
    data = _save(stored, ["app"])  # a bare repository saves every tag it has
    loaded = transfer.load(new_store, cast(BinaryIO, io.BytesIO(data)))
    assert [image.id for image in loaded] == [stored.image_id]
    assert loaded[0].messages() == ["Loaded image: app:1", "Loaded image: app:extra"]
    again = new_store.image("app:extra")
    assert again.id == stored.image_id
    assert again.diff_ids == stored.store.image("app:1").diff_ids
    assert new_store.content.read_bytes(again.diff_ids[0]) == stored.store.content.read_bytes(
        again.diff_ids[0])
    assert not any((new_store.root / "ingest").iterdir())


def test_save_by_id_is_untagged(stored: Stored, new_store: Store) -> None:
    data = _save(stored, [stored.image_id[7:19]])
    assert json.loads(read_members(data)["manifest.json"])[0]["RepoTags"] is None
    loaded = transfer.load(new_store, cast(BinaryIO, io.BytesIO(data)))
    assert loaded[0].messages() == [f"Loaded image ID: {stored.image_id}"]


class _Pipe(io.RawIOBase):
    """A non-seekable stream, as stdin is."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        return self._inner.readinto(buffer)


def test_load_from_pipe_with_manifest_last_and_gzip(stored: Stored, new_store: Store) -> None:
    import tarfile

    data = _save(stored, ["app:1"])
    # reorder: every blob first, manifest.json / index.json last (what a pipe cannot seek back to)
    src = tarfile.open(fileobj=io.BytesIO(data))
    members = sorted(src.getmembers(), key=lambda m: not m.name.startswith("blobs"))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as dst:
        for m in members:
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
    compressed = gzip.compress(out.getvalue())
    loaded = transfer.load(new_store, cast(BinaryIO, io.BufferedReader(_Pipe(compressed))))
    assert loaded[0].id == stored.image_id
    assert new_store.image("app:1").id == stored.image_id


def test_save_streams_to_a_real_pipe_with_sendfile(stored: Stored, new_store: Store) -> None:
    read_fd, write_fd = os.pipe()
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(read_fd, 65536), b"")))
    reader.start()
    with os.fdopen(write_fd, "wb") as out:
        transfer.save(stored.store, ["app:1"], cast(BinaryIO, out))
    reader.join()
    os.close(read_fd)
    loaded = transfer.load(new_store, cast(BinaryIO, io.BytesIO(b"".join(chunks))))
    assert loaded[0].id == stored.image_id


def test_cli_save_and_load(stored: Stored, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "app.tar"
    result = runner.invoke(cli, ["--root", str(stored.store.root), "save", "-o", str(out), "app:1"])
    assert result.exit_code == 0, result.output
    dest = tmp_path / "cli-dest"
    result = runner.invoke(cli, ["--root", str(dest), "image", "load", "-q", "-i", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == "Loaded image: app:1\n"
    result = runner.invoke(cli, ["--root", str(dest), "load"], input=out.read_bytes())
    assert result.exit_code == 0, result.output
    assert "Loaded image: app:1" in result.output


def test_cli_save_missing_image_is_one_error(stored: Stored, tmp_path: Path) -> None:
    out = tmp_path / "x.tar"
    result = CliRunner().invoke(
        cli, ["--root", str(stored.store.root), "save", "-o", str(out), "nope:1"])
    assert result.exit_code == 125
    assert "No such image" in result.output and "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.glob(".x.tar*"))


def test_failed_load_leaves_destination_empty(new_store: Store) -> None:
    assert store_is_empty(new_store)
