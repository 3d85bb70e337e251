"""The build's start-up shortcuts give exactly what the general code gives: names read without
dockyard.reference, digests checked without a regex, temp files without tempfile, and the plain
record classes that replaced dataclasses on the build's path."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dockyard import reference
from dockyard.build.context import ContextEntry
from dockyard.build.copy import Owner
from dockyard.build.options import BuildOptions
from dockyard.errors import InvalidArgument
from dockyard.store.content import check_digest, temp_dir, temp_file
from dockyard.store.images import ImageRecord, parse_ref, simple_ref

REFS = [  # fmt: skip
    "python:3.11-slim", "python", "busybox:latest", "docker.io/library/python:3.11-slim",
    "docker.io/library/python", "a__b-c.d:T_1.x", "localhost:5000", "my-flask-app:1.0",
    "a..b", "a-", "-a", "a___b", "A", "a:", "a:.x", "a:-x", "docker.io/library/", "library/x",
    "x" * 250, "a:" + "t" * 128, "a:" + "t" * 129, "user/app:1", "localhost:5000/app",
    "docker.io/library/a/b", "a@sha256:" + "0" * 64, "a:b@sha256:" + "0" * 64, "ubuntu:22.04",
]  # fmt: skip


def _general(ref: str) -> tuple[str, str] | None:
    """What dockyard.reference makes of `ref` as a tag (None: not a plain tag, or invalid)."""
    try:
        parsed = reference.parse_reference(ref, default_tag=False)
    except InvalidArgument:
        return None
    if parsed.digest is not None:
        return None
    return parsed.name, parsed.tag or "latest"


@pytest.mark.parametrize("ref", REFS)
def test_simple_refs_are_normalized_as_docker_does(ref: str) -> None:
    fast = simple_ref(ref)
    if fast is not None:  # the shortcut only answers what the general parser agrees with
        assert (fast.repository, fast.tag) == _general(ref)
        assert fast.digest is None


@pytest.mark.parametrize("ref", ["python:3.11-slim", "busybox", "docker.io/library/alpine:3"])
def test_the_common_names_take_the_shortcut_and_parse_the_same(ref: str) -> None:
    assert simple_ref(ref) is not None
    assert (parse_ref(ref).repository, parse_ref(ref).tag) == _general(ref)


def test_check_digest_accepts_only_lowercase_sha256() -> None:
    good = "sha256:" + "0123456789abcdef" * 4
    assert check_digest(good) == good
    for bad in [good.upper(), good[:-1], good + "\n", good + "0", "sha512:" + good[7:], 7, ""]:
        with pytest.raises(InvalidArgument):
            check_digest(bad)  # type: ignore[arg-type]


def test_temp_file_and_dir_are_new_and_private(tmp_path: Path) -> None:
    fd1, name1 = temp_file(tmp_path, "blob-", ".partial")
    fd2, name2 = temp_file(tmp_path, "blob-", ".partial")
    os.close(fd1)
    os.close(fd2)
    assert name1 != name2 and name1.endswith(".partial")
    assert stat.S_IMODE(os.stat(name1).st_mode) == 0o600
    one, two = temp_dir(tmp_path, "build-"), temp_dir(tmp_path, "build-")
    assert one != two and one.is_dir() and one.name.startswith("build-")
    assert stat.S_IMODE(one.stat().st_mode) == 0o700


def test_records_compare_and_stay_immutable_as_the_dataclasses_did(tmp_path: Path) -> None:
    record = ImageRecord(id="sha256:" + "a" * 64, manifest_digest="sha256:" + "b" * 64)
    assert record == ImageRecord("sha256:" + "a" * 64, "sha256:" + "b" * 64, [], 0.0, [], None)
    assert record.names == [] and record.short_id == "a" * 12
    with pytest.raises(AttributeError):
        record.id = "x"  # type: ignore[misc]
    entry = ContextEntry("a.txt", tmp_path / "a.txt", 0o100644, 0, 0, 3, None, "file")
    same = ContextEntry("a.txt", tmp_path / "a.txt", 0o100644, 0, 0, 3, None, "file")
    assert entry == same and hash(entry) == hash(same) and len({entry, same}) == 1
    with pytest.raises(AttributeError):
        entry.size = 4  # type: ignore[misc]
    assert Owner() == Owner(0, 0) != Owner(None, None)


def test_build_options_keep_defaults_apart_and_hide_secrets() -> None:
    one, two = BuildOptions(), BuildOptions()
    one.tags.append("x")
    assert two.tags == []
    opts = BuildOptions(secrets={"token": b"s3cret"})
    assert "s3cret" not in repr(opts)
    assert opts == BuildOptions(secrets={"token": b"s3cret"})
