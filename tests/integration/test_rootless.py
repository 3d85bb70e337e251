"""Rootless mode: an unprivileged user imports an image, lists it and runs a container with runc.

Runs dockyard as a non-root user (created here with a /etc/subuid + /etc/subgid range when it
does not exist, removed afterwards) with its own HOME, so the default store root
(~/.local/share/dockyard) is exercised too. The venv's python may sit under root's home (a
pyenv build in /root), which other users cannot enter: then the system python3 of the same
version runs dockyard from the checkout with the venv's site-packages on PYTHONPATH.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.busybox import make_rootfs, rootfs_tar_bytes

import dockyard

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

USER = "dockyard-rootless"
SRC = Path(dockyard.__file__).resolve().parent.parent
SITE = Path(sysconfig.get_paths()["purelib"])

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def _run_as(user: str, args: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", user, "--", *args], capture_output=True, text=True,
                          timeout=60, **kw)  # type: ignore[call-overload]  # fmt: skip


def _python_for(user: str) -> str:
    """A python the user can execute that imports dockyard from this checkout."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for cand in (sys.executable, shutil.which(version, path="/usr/bin:/bin") or ""):
        if cand and _run_as(user, ["test", "-x", cand]).returncode == 0:
            return cand
    pytest.skip(f"no {version} that user {user} may execute (the venv's is {sys.executable})")


def _has_subids(user: str) -> bool:
    for path in ("/etc/subuid", "/etc/subgid"):
        text = Path(path).read_text() if Path(path).exists() else ""
        if not any(line.startswith(f"{user}:") for line in text.splitlines()):
            return False
    return True


@pytest.fixture(scope="module")
def user() -> Iterator[str]:
    for tool in ("runuser", "useradd", "newuidmap", "newgidmap", "runc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install uidmap runc util-linux passwd)")
    created = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", USER],
                       check=True)  # fmt: skip
        created = True
    try:
        if not _has_subids(USER):  # --system users get no automatic range
            subprocess.run(["usermod", "--add-subuids", "500000000-500065535",
                            "--add-subgids", "500000000-500065535", USER], check=True)  # fmt: skip
        yield USER
    finally:
        if created:
            subprocess.run(["userdel", USER], check=False)
            for path in ("/etc/subuid", "/etc/subgid"):  # userdel may keep the range
                lines = Path(path).read_text().splitlines(keepends=True)
                Path(path).write_text("".join(x for x in lines if not x.startswith(f"{USER}:")))


@pytest.fixture
def dockyard_as(user: str) -> Iterator[tuple[Path, Runner]]:
    """(HOME, run(args) -> CompletedProcess): dockyard as `user` with a fresh HOME of its own."""
    info = pwd.getpwnam(user)
    home = Path(tempfile.mkdtemp(prefix="dockyard-rootless-"))
    runtime_dir = home / "run"
    runtime_dir.mkdir(mode=0o700)
    for path in (home, runtime_dir):
        os.chown(path, info.pw_uid, info.pw_gid)
    python = _python_for(user)
    env = ["env", "-i", f"HOME={home}", f"XDG_RUNTIME_DIR={runtime_dir}", f"USER={user}",
           "PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"PYTHONPATH={SRC}:{SITE}"]  # fmt: skip

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return _run_as(user, [*env, python, "-m", "dockyard.cli.entry", *args], cwd=home)

    try:
        yield home, run
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _import_busybox(home: Path, run: Runner, tmp_path: Path) -> None:
    tar = home / "busybox.tar"
    tar.write_bytes(rootfs_tar_bytes(make_rootfs(tmp_path / "rootfs")))
    os.chmod(tar, 0o644)
    result = run("import", str(tar), "busybox")
    assert result.returncode == 0, result.stderr


def test_rootless_import_images_and_run(dockyard_as: tuple[Path, Runner], tmp_path: Path) -> None:
    home, run = dockyard_as
    _import_busybox(home, run, tmp_path)
    assert (home / ".local/share/dockyard/metadata.db").is_file()  # the per-user default root
    images = run("images")
    assert images.returncode == 0, images.stderr
    assert "busybox" in images.stdout and "latest" in images.stdout

    hello = run("run", "--rm", "--network", "none", "busybox", "echo", "hi")
    assert hello.returncode == 0, hello.stderr
    assert hello.stdout == "hi\n"

    # inside, the caller is root of a user namespace; image users map onto the subuid range
    ids = run("run", "--rm", "--network", "none", "--user", "1000", "busybox",
              "sh", "-c", "id -u; cat /proc/self/uid_map")  # fmt: skip
    assert ids.returncode == 0, ids.stderr
    lines = ids.stdout.split("\n")
    assert lines[0] == "1000"
    first = lines[1].split()
    assert first[:2] == ["0", str(pwd.getpwnam(USER).pw_uid)]
    ps = run("ps", "-a", "-q")
    assert ps.returncode == 0 and ps.stdout.strip() == ""  # --rm removed them


def test_rootless_refuses_networks_it_cannot_make(
    dockyard_as: tuple[Path, Runner], tmp_path: Path
) -> None:
    home, run = dockyard_as
    _import_busybox(home, run, tmp_path)
    published = run("run", "--rm", "-p", "8080:80", "busybox", "true")
    assert published.returncode == 125
    assert published.stderr.splitlines()[0] == (
        "Error: publishing ports (-p/-P) is not supported for rootless containers"
    )
    assert "Traceback" not in published.stderr
    bridge = run("run", "--rm", "busybox", "true")
    assert bridge.returncode == 125
    assert "network 'bridge' is not supported for rootless containers" in bridge.stderr
    assert "--network none" in bridge.stderr  # the hint
