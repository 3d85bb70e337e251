"""The build tests' helpers: a `dockyard` CLI runner on a temporary store with busybox in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.busybox import make_rootfs_tar

DOCKYARD = [sys.executable, "-m", "dockyard.cli.entry"]  # what the `dockyard` executable runs


class Dockyard:
    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, *args: str, check: bool = True, stdin: str | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
        proc = subprocess.run([*DOCKYARD, "--root", str(self.root), *args], capture_output=True,
                              text=True, timeout=timeout, input=stdin)  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)} -> {proc.returncode}\n{proc.stderr}")
        return proc

    def build(self, ctx: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self("build", "--progress", "plain", *args, str(ctx), check=check)

    def inspect(self, ref: str) -> dict:
        return json.loads(self("image", "inspect", ref).stdout)[0]

    def config(self, ref: str) -> dict:
        from dockyard.store import Store

        with Store(self.root) as store:
            return json.loads(store.image(ref).config_bytes)

    def read_file(self, ref: str, path: str) -> bytes:
        """A file of an image's root filesystem (through a read-only overlay mount)."""
        from dockyard.build.layers import readonly_rootfs
        from dockyard.store import Store

        with Store(self.root) as store, readonly_rootfs(store, store.image(ref)) as rootfs:
            return (rootfs / path.lstrip("/")).read_bytes()

    def stat(self, ref: str, path: str) -> os.stat_result:
        from dockyard.build.layers import readonly_rootfs
        from dockyard.store import Store

        with Store(self.root) as store, readonly_rootfs(store, store.image(ref)) as rootfs:
            return os.lstat(rootfs / path.lstrip("/"))


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox root filesystem tar, made once per session. Build tests import this fixture."""
    work = tmp_path_factory.mktemp("busybox")
    return make_rootfs_tar(work / "busybox.tar", work)


@pytest.fixture
def dy(tmp_path: Path, busybox_tar: Path) -> Iterator[Dockyard]:
    """A store under tmp_path holding busybox:latest; checks that no mount is left behind."""
    d = Dockyard(tmp_path / "root")
    d("import", str(busybox_tar), "busybox:latest")
    yield d
    from dockyard.network.networks import NetworkStore
    from dockyard.store import Store

    with Store(d.root) as store:
        store.db.ensure()
        NetworkStore(store.db, d.root).release_devices()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(d.root) not in mounts, "a build left a mount behind"


def _context(tmp_path: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx / name).write_text(text)
    return ctx
