"""Hand-built tar headers read back by Python's tarfile and GNU tar, big fields in PAX records."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.image import tarheader as th


def _read(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return tf.getmembers()


def test_fields_that_do_not_fit_ustar_go_to_pax(tmp_path: Path) -> None:
    long_name = ("deep/" * 30).encode() + b"file"
    entries = [
        th.Entry(name=long_name, type=th.REGTYPE, uid=3_000_000, gid=70_000, mtime=1_234_567_890),
        th.Entry(name=b"link", type=th.SYMTYPE, linkname=b"t" * 150, mtime=-5),
        th.Entry(name="n\u00e4me".encode(), type=th.DIRTYPE, mode=0o2755,
                 xattrs={b"user.bin": b"\x00\xff\x80", b"security.capability": b"\x01\x02"}),
        th.Entry(name=b"dev", type=th.CHRTYPE, devmajor=10, devminor=200, mode=0o620),
    ]
    data = b"".join(th.encode(e) for e in entries) + th.END_OF_ARCHIVE
    members = _read(data)
    assert [m.name for m in members] == [long_name.decode(), "link", "n\u00e4me", "dev"]
    assert (members[0].uid, members[0].gid, members[0].mtime) == (3_000_000, 70_000, 1_234_567_890)
    assert members[1].linkname == "t" * 150 and members[1].mtime == -5
    xattrs = {k: v.encode("utf-8", "surrogateescape") for k, v in members[2].pax_headers.items()}
    assert xattrs["SCHILY.xattr.user.bin"] == b"\x00\xff\x80"
    assert members[2].mode == 0o2755 and members[2].isdir()
    assert (members[3].devmajor, members[3].devminor, members[3].ischr()) == (10, 200, True)
    (tmp_path / "t.tar").write_bytes(data)
    listing = subprocess.run(["tar", "-tvf", str(tmp_path / "t.tar")], check=True,
                             capture_output=True, text=True).stdout
    assert "3000000/70000" in listing and long_name.decode() in listing


def test_pax_record_length_counts_itself() -> None:
    for size in range(1, 300):
        record = th._pax_record(b"k", b"v" * size)
        length = int(record.split(b" ", 1)[0])
        assert length == len(record)


@settings(max_examples=400, deadline=None)
@given(
    name=st.binary(min_size=1, max_size=160),
    typeflag=st.sampled_from([th.REGTYPE, th.LNKTYPE, th.SYMTYPE, th.DIRTYPE, th.FIFOTYPE]),
    mode=st.integers(0, 0o177777),
    uid=st.sampled_from([0, 1, 1000, 8**7 - 1, 8**7, 3_000_000_000]),
    gid=st.sampled_from([0, 50, 8**7 - 1, 8**7]),
    size=st.sampled_from([0, 1, 511, 512, 8**11 - 1, 8**11]),
    mtime=st.sampled_from([0, 1_700_000_000, 8**11 - 1, 8**11, -1]),
    linkname=st.binary(max_size=120),
)
def test_fast_header_is_exactly_encode(
    name: bytes, typeflag: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
    linkname: bytes,
) -> None:
    """The fast path layers use for plain entries writes the very bytes `encode` writes."""
    fast = th.header(name, typeflag, mode, uid, gid, size, mtime, linkname)
    assert fast == th.encode(th.Entry(name, typeflag, mode, uid, gid, size, mtime, linkname))
    assert len(fast) % th.BLOCK == 0
