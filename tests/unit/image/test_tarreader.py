"""The layer tar reader against Python's tarfile, over archives from several writers and formats."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from dockyard.image.tarreader import TarFormatError, TarReader


def _members(data: bytes) -> list[tuple[object, ...]]:
    tar = TarReader(io.BytesIO(data))
    out = []
    for m in tar:
        body = b""
        while chunk := tar.read(7000):
            body += chunk
        out.append((m.name.rstrip("/"), m.type, m.mode, m.uid, m.gid, m.mtime, m.linkname,
                    m.devmajor, m.devminor, body, dict(m.xattrs)))
    return out


def _reference(data: bytes) -> list[tuple[object, ...]]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf:
            body = tf.extractfile(m).read() if m.isreg() else b""  # type: ignore[union-attr]
            kind = b"0" if m.isreg() else m.type
            xattrs = {k[13:]: v.encode("utf-8", "surrogateescape")
                      for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")}
            out.append((m.name.rstrip("/"), kind, m.mode, m.uid, m.gid, int(m.mtime), m.linkname,
                        m.devmajor, m.devminor, body, xattrs))
    return out


def _python_tar(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        deep = "/".join(["directory-with-a-long-name"] * 6)
        for name, data in ((f"{deep}/file.txt", b"deep"), ("plain", b"x" * 1500), ("empty", b"")):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_650_000_000, 0o640
            info.uid = 5_000_000 if fmt == tarfile.GNU_FORMAT else 1000
            if fmt == tarfile.PAX_FORMAT:
                info.pax_headers = {"SCHILY.xattr.user.k": "v"}
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("l" * 120 if fmt != tarfile.USTAR_FORMAT else "link")
        link.type, link.linkname = tarfile.SYMTYPE, "t" * 110 if fmt != tarfile.USTAR_FORMAT else "t"
        tf.addfile(link)
        dev = tarfile.TarInfo("dev/null")
        dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 1, 3
        tf.addfile(dev)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_python_written_formats(fmt: int) -> None:
    data = _python_tar(fmt)
    assert _members(data) == _reference(data)


@pytest.mark.parametrize("fmt", ["gnu", "posix", "ustar", "v7"])
def test_gnu_tar_written_formats(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "file").write_bytes(os.urandom(3000))
    (src / "a" / ("n" * 90)).write_text("long-ish")
    os.symlink("b/file", src / "a" / "sym")
    os.link(src / "a" / "b" / "file", src / "a" / "hard")
    data = subprocess.run(["tar", f"--format={fmt}", "-C", str(src), "-cf", "-", "a"],
                          check=True, capture_output=True).stdout
    assert _members(data) == _reference(data)


def test_errors() -> None:
    data = _python_tar(tarfile.PAX_FORMAT)
    with pytest.raises(TarFormatError, match="checksum"):
        list(TarReader(io.BytesIO(b"x" * 1024)))
    broken = bytearray(data)
    broken[148:156] = b"0000000\0"
    with pytest.raises(TarFormatError, match="checksum"):
        list(TarReader(io.BytesIO(bytes(broken))))
    tar = TarReader(io.BytesIO(data[:1500]))
    with pytest.raises(TarFormatError, match="unexpected end"):
        for _ in tar:
            pass
