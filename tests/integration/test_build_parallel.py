"""Independent stages build at the same time; a failing stage stops the build with its error."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from helpers.dybuild import Dockyard, _context

pytestmark = pytest.mark.integration


# /proc/uptime is the host's clock (to 10 ms), the same in every container
TIMED = "cut -d' ' -f1 /proc/uptime > /start && sleep 1 && cut -d' ' -f1 /proc/uptime > /end"
TWO_STAGES = f"""\
FROM busybox AS left
RUN {TIMED}
FROM busybox AS right
RUN {TIMED}
FROM busybox
COPY --from=left /start /left.start
COPY --from=left /end /left.end
COPY --from=right /start /right.start
COPY --from=right /end /right.end
"""


def test_independent_stages_run_at_the_same_time(dy: Dockyard, tmp_path: Path) -> None:
    out = dy.build(_context(tmp_path, TWO_STAGES), "-t", "par:1")

    def t(name: str) -> float:
        return float(dy.read_file("par:1", f"/{name}"))

    left, right = (t("left.start"), t("left.end")), (t("right.start"), t("right.end"))
    assert left[1] - left[0] >= 1.0 and right[1] - right[0] >= 1.0
    assert left[0] < right[1] and right[0] < left[1]  # the two sleeps overlapped
    assert max(left[1], right[1]) - min(left[0], right[0]) < 1.8  # well under the 2 s sum
    # plain output stays readable: every line of a step carries its number
    numbered = {m.group(1): m.group(2) for m in re.finditer(r"^#(\d+) (\[\w+ \d/\d\] RUN .*)$",
                                                            out.stderr, re.M)}  # fmt: skip
    assert len(numbered) == 2
    for number in numbered:
        assert re.search(rf"^#{number} DONE ", out.stderr, re.M)


def test_a_failing_stage_stops_the_build_with_its_error(dy: Dockyard, tmp_path: Path) -> None:
    dockerfile = """\
FROM busybox AS slow
RUN sleep 20 && echo never > /x
FROM busybox AS broken
RUN echo about to fail && sleep 0.3 && exit 3
FROM busybox
COPY --from=slow /x /x
COPY --from=broken /etc/passwd /p
"""
    started = time.monotonic()
    out = dy.build(_context(tmp_path, dockerfile), "-t", "bad:1", check=False)
    took = time.monotonic() - started
    assert out.returncode != 0
    assert took < 10  # the slow stage was stopped, not waited for
    assert "exit code: 3" in out.stderr and "about to fail" in out.stderr
    assert "[broken 2/2] RUN echo about to fail" in out.stderr.split("------")[1]
    assert "Error: failed to solve: process" in out.stderr
    assert "sleep 20" not in out.stderr.split("Error:")[-1]
    assert dy("images", "-q", "bad:1", check=False).stdout.strip() == ""


def test_two_stages_pull_the_same_missing_base_once(dy: Dockyard, tmp_path: Path) -> None:
    """Stages on the same not-yet-stored image pull it from the registry (each through its own
    store connection) once, and both build on it."""
    from helpers.registry import start_dockyard_registry

    server = start_dockyard_registry(tmp_path / "registry")
    try:
        remote = f"{server.host}/lib/busybox:1"
        dy("tag", "busybox:latest", remote)
        dy("push", remote)
        fresh = Dockyard(tmp_path / "fresh")
        dockerfile = f"""\
FROM {remote} AS left
RUN echo left > /who
FROM {remote} AS right
RUN echo right > /who
FROM scratch
COPY --from=left /who /left
COPY --from=right /who /right
"""
        out = fresh.build(_context(tmp_path, dockerfile), "-t", "pulled:1")
    finally:
        server.stop()
    assert out.stderr.count(f"pulling {remote}") == 1, out.stderr
    assert fresh.read_file("pulled:1", "/left") == b"left\n"
    assert fresh.read_file("pulled:1", "/right") == b"right\n"
    assert fresh("images", "-q", remote).stdout.strip()
