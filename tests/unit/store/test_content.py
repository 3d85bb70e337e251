"""Content store: verified writes, refused digests, crash safety, compressed variants."""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import zstandard

from dockyard.errors import InvalidArgument, NotFound
from dockyard.store import Store


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "root")
    yield s
    s.close()


def test_write_and_read_back(store: Store) -> None:
    data = b"layer bytes" * 1000
    digest = store.content.write_bytes(data)
    assert digest == sha(data)
    assert store.content.has(digest)
    assert store.content.size(digest) == len(data)
    assert store.content.read_bytes(digest) == data
    assert store.content.path(digest) == store.root / "blobs" / "sha256" / digest[7:]
    assert list((store.root / "ingest").iterdir()) == []


def test_expected_digest_verified(store: Store) -> None:
    data = b"hello"
    assert store.content.write_bytes(data, expected=sha(data)) == sha(data)


def test_wrong_digest_refused_and_nothing_stored(store: Store) -> None:
    wrong = sha(b"something else")
    with pytest.raises(InvalidArgument, match="does not match its digest"):
        store.content.write_bytes(b"hello", expected=wrong)
    assert not store.content.has(wrong)
    assert not store.content.has(sha(b"hello"))
    assert store.content.list() == []
    assert list((store.root / "ingest").iterdir()) == []


def test_wrong_size_refused(store: Store) -> None:
    with store.content.writer(expected_size=10) as w:
        w.write(b"abc")
        with pytest.raises(InvalidArgument, match="3 bytes, expected 10"):
            w.commit()
    assert store.content.list() == []


def test_writer_discarded_when_block_raises(store: Store) -> None:
    with pytest.raises(RuntimeError):
        with store.content.writer() as w:
            w.write(b"partial")
            raise RuntimeError("source failed")
    assert store.content.list() == []
    assert list((store.root / "ingest").iterdir()) == []


def test_malformed_digest_and_missing_blob(store: Store) -> None:
    with pytest.raises(InvalidArgument, match="invalid digest"):
        store.content.has("sha256:../../etc/passwd")
    with pytest.raises(NotFound):
        store.content.open(sha(b"absent"))


def test_delete(store: Store) -> None:
    digest = store.content.write_bytes(b"x")
    store.content.delete(digest)
    assert not store.content.has(digest)


def test_compressed_made_once_and_remembered(store: Store) -> None:
    data = os.urandom(1000) * 300
    digest = store.content.write_bytes(data)
    gz, size = store.content.compressed(digest, "gzip")
    assert gzip.decompress(store.content.read_bytes(gz)) == data
    assert size == store.content.size(gz)
    mtime = store.content.path(gz).stat().st_mtime_ns
    assert store.content.compressed(digest, "gzip") == (gz, size)
    assert store.content.path(gz).stat().st_mtime_ns == mtime
    assert store.content.uncompressed_of(gz) == digest
    zs, _ = store.content.compressed(digest, "zstd")
    assert zstandard.ZstdDecompressor().decompressobj().decompress(
        store.content.read_bytes(zs)
    ) == data
    # a second Store object on the same root remembers the variant
    other = Store(store.root)
    assert other.content.variant(digest, "gzip") == (gz, size)
    other.close()


_WRITER = textwrap.dedent(
    """
    import sys, time
    from dockyard.store import Store
    s = Store(sys.argv[1])
    with s.content.writer() as w:
        for _ in range(10000):
            w.write(b"x" * 65536)
            w.flush()
            time.sleep(0.001)
        w.commit()
    """
)


def test_killed_writer_leaves_no_blob(tmp_path: Path) -> None:
    root = tmp_path / "root"
    Store(root).close()
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(root)])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            partial = list((root / "ingest").iterdir())
            if partial and partial[0].stat().st_size > 1 << 20:
                break
            time.sleep(0.02)
        else:
            pytest.fail("writer never started writing")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    store = Store(root)
    assert store.content.list() == []
    assert store.content.clean_ingest() == 1
    assert list((root / "ingest").iterdir()) == []
    store.close()


def test_live_writer_survives_ingest_cleanup(store: Store) -> None:
    with store.content.writer() as w:
        w.write(b"in progress")
        assert store.content.clean_ingest() == 0
        digest = w.commit()
    assert store.content.read_bytes(digest) == b"in progress"


def test_root_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(InvalidArgument, match="not a directory"):
        Store(f)


def test_foreign_directory_refused(tmp_path: Path) -> None:
    d = tmp_path / "home"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    with pytest.raises(InvalidArgument, match="not a dockyard store"):
        Store(d)
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt"]


def test_store_reopens_and_newer_version_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    Store(root).close()
    Store(root).close()
    (root / "dockyard-store").write_text('{"version": 99}\n')
    with pytest.raises(InvalidArgument, match="format version 99"):
        Store(root)


def test_ingest_adopt_publishes_under_the_callers_digest(store: Store) -> None:
    data = os.urandom(20 << 20)  # past the writeback step: writeback starts while writing
    with store.content.ingest(prefix="layer-") as ingest:
        for i in range(0, len(data), 1 << 20):
            ingest.write(data[i : i + (1 << 20)])
        assert [p.name.startswith("layer-") for p in (store.root / "ingest").iterdir()] == [True]
        assert store.content.clean_ingest() == 0  # locked while written
        assert ingest.adopt(sha(data), len(data)) == sha(data)
    assert store.content.read_bytes(sha(data)) == data
    assert oct(store.content.path(sha(data)).stat().st_mode & 0o777) == "0o644"
    assert list((store.root / "ingest").iterdir()) == []
    with store.content.ingest() as again:  # already present: the new copy is dropped
        again.write(data)
        again.adopt(sha(data), len(data))
    assert store.content.list() == [sha(data)]
    assert list((store.root / "ingest").iterdir()) == []


def test_ingest_adopt_refuses_a_wrong_size_and_stores_nothing(store: Store) -> None:
    with store.content.ingest() as ingest:
        ingest.write(b"abc")
        with pytest.raises(InvalidArgument, match="has 3 bytes, expected 4"):
            ingest.adopt(sha(b"abcd"), 4)
    assert store.content.list() == []
    assert list((store.root / "ingest").iterdir()) == []


def test_ingest_dropped_when_the_producer_fails(store: Store) -> None:
    with pytest.raises(RuntimeError), store.content.ingest() as ingest:
        ingest.write(b"half a layer")
        raise RuntimeError("producer died")
    assert store.content.list() == []
    assert list((store.root / "ingest").iterdir()) == []
