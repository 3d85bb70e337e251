"""Hostile and broken layer tars: nothing is written outside the target, errors are clear."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.image.layer import apply_layer


def _tar(*entries: tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for entry in entries:
            if isinstance(entry, tuple):
                info, data = entry
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(entry)
    return buf.getvalue()


def _file(name: str, data: bytes = b"pwned\n") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.fixture
def jail(tmp_path: Path) -> Path:
    """target = tmp/a/b/target; tmp/outside holds a secret the tars try to reach."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("secret\n")
    target = tmp_path / "a" / "b" / "target"
    target.mkdir(parents=True)
    return target


def _outside_untouched(jail: Path) -> None:
    root = jail.parent.parent.parent
    assert sorted(p.name for p in root.iterdir()) == ["a", "outside"]
    assert sorted(p.name for p in (root / "outside").iterdir()) == ["secret"]
    assert (root / "outside" / "secret").read_text() == "secret\n"
    assert sorted(p.name for p in (root / "a" / "b").iterdir()) == ["target"]


def test_dotdot_entry_is_refused(jail: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"outside the layer root"):
        apply_layer(io.BytesIO(_tar(_file("../../../outside/secret"))), jail)
    _outside_untouched(jail)


def test_absolute_path_stays_inside(jail: Path) -> None:
    apply_layer(io.BytesIO(_tar(_file("/outside/secret"))), jail)
    assert (jail / "outside" / "secret").read_text() == "pwned\n"
    _outside_untouched(jail)


def test_write_through_symlink_to_root_stays_inside(jail: Path) -> None:
    data = _tar(_link("escape", "/"), _file("escape/outside/secret"), _link("up", "../../.."),
                _file("up/outside/secret2"))
    apply_layer(io.BytesIO(data), jail)
    _outside_untouched(jail)
    assert (jail / "outside" / "secret").read_text() == "pwned\n"
    assert (jail / "outside" / "secret2").read_text() == "pwned\n"
    assert os.readlink(jail / "escape") == "/"  # the link itself is kept as written


def test_symlink_loop_is_refused(jail: Path) -> None:
    data = _tar(_link("a", "b"), _link("b", "a"), _file("a/x"))
    with pytest.raises(InvalidArgument, match="too many symlinks"):
        apply_layer(io.BytesIO(data), jail)
    _outside_untouched(jail)


@pytest.mark.parametrize("target", ["/etc/shadow", "../../../outside/secret", "escape/outside/secret"])
def test_hard_link_outside_is_refused(jail: Path, target: str) -> None:
    data = _tar(_link("escape", "/"), _link("stolen", target, tarfile.LNKTYPE))
    with pytest.raises(InvalidArgument, match="hard link|outside the layer root"):
        apply_layer(io.BytesIO(data), jail)
    _outside_untouched(jail)
    assert not (jail / "stolen").exists()


def test_hard_link_inside_works(jail: Path) -> None:
    apply_layer(io.BytesIO(_tar(_file("a"), _link("b", "/a", tarfile.LNKTYPE))), jail)
    assert (jail / "a").stat().st_ino == (jail / "b").stat().st_ino


def test_overlay_xattrs_in_a_tar_are_ignored(jail: Path) -> None:
    info = tarfile.TarInfo("d")
    info.type = tarfile.DIRTYPE
    info.pax_headers = {"SCHILY.xattr.trusted.overlay.opaque": "y",
                        "SCHILY.xattr.user.overlay.redirect": "/etc"}
    apply_layer(io.BytesIO(_tar(info)), jail)
    assert os.listxattr(jail / "d") == []


def test_truncated_tar_names_the_entry(jail: Path) -> None:
    data = _tar(_file("first", b"1"), _file("big.bin", os.urandom(100_000)))
    cut = data.index(b"big.bin") + 20_000
    with pytest.raises(InvalidArgument, match=r"truncated or malformed at 'big.bin'") as info:
        apply_layer(io.BytesIO(data[:cut]), jail)
    assert info.value.hint


def test_truncated_gzip_is_an_error(jail: Path) -> None:
    import gzip

    data = gzip.compress(_tar(_file("big.bin", os.urandom(100_000))))
    with pytest.raises(InvalidArgument, match="truncated or malformed"):
        apply_layer(io.BytesIO(data[: len(data) // 2]), jail)


def test_garbage_is_an_error(jail: Path) -> None:
    with pytest.raises(InvalidArgument):
        apply_layer(io.BytesIO(b"this is not a tar archive at all" * 40), jail)
