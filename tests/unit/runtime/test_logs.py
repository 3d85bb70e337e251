"""conmon k8s-file log lines and Docker's --since values."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.logs import _parse_line, parse_since, select


def test_conmon_timestamps_with_nanoseconds_and_offsets() -> None:
    base = parse_since("2026-11-26T16:14:57Z")
    assert parse_since("2026-11-26T16:14:57.676851186+00:00") == pytest.approx(base + 0.676851186)
    assert parse_since("2026-11-26T17:14:57.5+01:00") == pytest.approx(base + 0.5)
    assert parse_since("2026-11-26") == parse_since("2026-11-26T00:00:00Z")


def test_since_durations_and_unix_times() -> None:
    assert parse_since("10m", now=1000.0) == 400.0
    assert parse_since("1h30m", now=10000.0) == 10000.0 - 5400
    assert parse_since("1700000000.5") == 1700000000.5
    with pytest.raises(InvalidArgument):
        parse_since("yesterday")


def test_partial_lines_tail_and_since() -> None:
    lines = [b"2026-11-26T16:14:57.1+00:00 stdout P par\n", b"2026-11-26T16:14:57.2+00:00 stdout F tial\n",
             b"2026-11-26T16:14:58.0+00:00 stderr F err\n"]  # fmt: skip
    entries = [e for line in lines if (e := _parse_line(line)) is not None]
    assert [(e.stream, e.text) for e in entries] == [("stdout", b"par"), ("stdout", b"tial\n"),
                                                     ("stderr", b"err\n")]  # fmt: skip
    assert [e.text for e in select(entries, 1, None)] == [b"err\n"]
    assert [e.text for e in select(entries, None, parse_since("2026-11-26T16:14:57.15Z"))] == [
        b"tial\n", b"err\n"]  # fmt: skip


def test_log_writer_round_trips_through_the_reader(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dockyard.runtime.logs import LogWriter, read_entries

    path = tmp_path / "ctr.log"
    writer = LogWriter(path)
    writer.write("stdout", b"one\ntw")
    writer.write("stdout", b"o\n")
    writer.write("stderr", b"oops\n")
    writer.close()
    entries = read_entries(path)
    assert b"".join(e.text for e in entries if e.stream == "stdout") == b"one\ntwo\n"
    assert [e.text for e in entries if e.stream == "stderr"] == [b"oops\n"]
    assert abs(entries[0].epoch - __import__("time").time()) < 60
    again = LogWriter(path)  # appends, as conmon does across restarts
    assert again.start == path.stat().st_size
    again.close()
