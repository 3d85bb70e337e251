"""A RUN step's runc state, network and bundle are undone after the step (on a thread, while the
layer is committed): by the time `dockyard build` returns, nothing of them is left."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from helpers.dybuild import Dockyard, _context

pytestmark = pytest.mark.integration


def _leftovers(root: Path) -> list[str]:
    """What a RUN step would leave behind in the store: runc containers, IP addresses still
    allocated to a build container, bundle directories. (A network still being attached on a
    thread the build forgot is waited for first, so that what it leaves shows.)"""
    for thread in threading.enumerate():
        if thread.name in ("build-network", "build-run-teardown"):
            thread.join()
    found = [f"runc state {p.name}" for p in (root / "runtime" / "runc").glob("build-*")]
    for lease in (root / "cni" / "networks").glob("*/*"):
        if lease.is_file() and lease.read_text(errors="replace").startswith("build-"):
            found.append(f"IP lease {lease.name}")
    found += [f"bundle {p.name}" for p in (root / "tmp").glob("build-run-*")]
    return found


def _build_in_process(root: Path, ctx: Path, tag: str) -> None:
    """engine.build in this process: what is left is looked at the moment it returns (a CLI
    process would also join the teardown thread at exit)."""
    from dockyard.build.options import BuildOptions
    from dockyard.build.progress import Progress
    from dockyard.engine.build import BuildRequest, build
    from dockyard.store import Store

    with Store(root) as store:
        build(store, BuildRequest(context_dir=ctx, options=BuildOptions(tags=[tag])),
              Progress("quiet"))  # fmt: skip


def test_run_steps_leave_nothing_behind(dy: Dockyard, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n")
    _build_in_process(dy.root, ctx, "teardown:1")
    assert _leftovers(dy.root) == []
    assert dy.read_file("teardown:1", "/two") == b"two\n"


def test_a_failing_run_step_leaves_nothing_behind(dy: Dockyard, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN echo one > /one\nRUN echo no && exit 4\n")
    proc = dy.build(ctx, "-t", "teardown:2", check=False)
    assert proc.returncode == 1
    assert "exit code: 4" in proc.stderr
    assert _leftovers(dy.root) == []


def test_a_network_attached_ahead_is_used_or_undone(dy: Dockyard, tmp_path: Path) -> None:
    """With --no-cache (or after a cache miss) the network of the next RUN step is attached
    while the steps before it run: the step uses it, and when the build fails before reaching
    the step, it is undone all the same."""
    from dockyard.build.options import BuildOptions
    from dockyard.build.progress import Progress
    from dockyard.engine.build import BuildRequest, build
    from dockyard.errors import DockyardError
    from dockyard.store import Store

    ok = _context(tmp_path / "ok", "FROM busybox\nWORKDIR /w\nRUN ip -4 addr show eth0 > /w/ip\n")
    bad = _context(tmp_path / "bad", "FROM busybox\nCOPY missing.txt /\nRUN echo never\n")
    with Store(dy.root) as store:
        build(store, BuildRequest(context_dir=ok, options=BuildOptions(tags=["ahead:1"],
                                                                       no_cache=True)),
              Progress("quiet"))  # fmt: skip
        assert _leftovers(dy.root) == []
        with pytest.raises(DockyardError):
            build(store, BuildRequest(context_dir=bad, options=BuildOptions(no_cache=True)),
                  Progress("quiet"))  # fmt: skip
        assert _leftovers(dy.root) == []
    assert b"inet " in dy.read_file("ahead:1", "/w/ip")  # the step had its network
