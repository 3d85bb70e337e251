"""Read conmon's k8s-file container logs: `logs` with --tail, --since, -t and -f."""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from dockyard.errors import InvalidArgument
from dockyard.records import FrozenRecord

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$")


class LogEntry(FrozenRecord):
    """One line of a k8s-file log."""

    def __init__(
        self,
        timestamp: str,  # RFC 3339 with nanoseconds, as conmon wrote it
        stream: str,  # "stdout" | "stderr"
        text: bytes,  # with its newline unless partial
    ) -> None:
        self.timestamp = timestamp
        self.stream = stream
        self.text = text

    @property
    def epoch(self) -> float:
        return _parse_ts(self.timestamp)


_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:?\d\d)?$")


def _parse_ts(ts: str) -> float:
    """RFC 3339 (nanoseconds allowed, as conmon writes them) -> Unix time."""
    m = _TIMESTAMP.match(ts.strip())
    if m is None:
        raise ValueError(f"invalid timestamp {ts!r}")
    whole, frac, tz = m.groups()
    tz = "+00:00" if tz in (None, "Z", "z") else tz
    base = datetime.fromisoformat(whole + tz).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def parse_since(value: str, now: float | None = None) -> float:
    """Docker's --since/--until: a Unix time, an RFC 3339 date, or a duration ago (10m, 1h30m)."""
    now = time.time() if now is None else now
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    total = 0.0
    pos = 0
    units = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos == len(text) and pos > 0:
        return now - total
    try:
        return _parse_ts(text if "T" in text else text + "T00:00:00Z")
    except ValueError:
        raise InvalidArgument(
            f"invalid value for --since: {value!r}",
            hint="use a duration such as 10m, a Unix time, or an RFC 3339 date",
        ) from None


def _parse_line(line: bytes) -> LogEntry | None:
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    ts, stream, tag = parts[0].decode(), parts[1].decode(), parts[2]
    text = parts[3] if len(parts) == 4 else b""
    if text.endswith(b"\n"):
        text = text[:-1]
    if tag != b"P":
        text += b"\n"
    return LogEntry(ts, stream, text)


def read_entries(path: Path) -> list[LogEntry]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    return [e for line in data.splitlines(keepends=True) if (e := _parse_line(line)) is not None]


def select(entries: list[LogEntry], tail: int | None, since: float | None) -> list[LogEntry]:
    if since is not None:
        entries = [e for e in entries if e.epoch >= since]
    if tail is not None and tail >= 0:
        entries = list(deque(entries, maxlen=tail)) if tail else []
    return entries


def follow(path: Path, offset: int, still_running: Callable[[], bool]) -> Iterator[LogEntry]:
    """Entries appended after byte `offset`, until the container stops and the file is drained."""
    buf = b""
    pos = offset
    while True:
        try:
            with path.open("rb") as fh:
                fh.seek(pos)
                chunk = fh.read()
        except FileNotFoundError:
            chunk = b""
        if chunk:
            pos += len(chunk)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                entry = _parse_line(line + b"\n")
                if entry is not None:
                    yield entry
            continue
        if not still_running():
            return
        time.sleep(0.1)


def _now_rfc3339() -> str:
    """The current time as conmon stamps log lines: local time, nanoseconds, +HH:MM offset."""
    ns = time.time_ns()
    t = time.localtime(ns // 1_000_000_000)
    off = time.strftime("%z", t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ns % 1_000_000_000:09d}{off[:3]}:{off[3:]}"


class LogWriter:
    """Append output to a k8s-file log as conmon does: one line per entry, `F` for a full line,
    `P` for the partial end of a read (a reader joins it with what follows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = path.open("ab")
        self.start = self._fh.tell()

    def write(self, stream: str, data: bytes) -> None:
        stamp = f"{_now_rfc3339()} {stream} ".encode()
        *lines, rest = data.split(b"\n")
        out = [stamp + b"F " + line + b"\n" for line in lines]
        if rest:
            out.append(stamp + b"P " + rest + b"\n")
        self._fh.write(b"".join(out))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
