"""Audit of issue #3: save and load show progress on a terminal, and nothing in a pipe."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import tarfile
from pathlib import Path

DOCKYARD = [sys.executable, "-m", "dockyard.cli.entry"]  # what the `dockyard` executable runs


def rootfs_tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("data.bin")
        info.size = 300_000
        tar.addfile(info, io.BytesIO(os.urandom(info.size)))
    return path


def stderr_on_a_terminal(args: list[str]) -> tuple[int, bytes]:
    """Run dockyard with stderr on a pseudo-terminal; (exit code, what the terminal showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*DOCKYARD, *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO once the child is gone
            break
        if not data:
            break
        shown += data
    os.close(master)
    return proc.wait(timeout=60), shown


def test_progress_on_a_terminal_only(tmp_path: Path) -> None:
    root = ["--root", str(tmp_path / "store")]
    subprocess.run([*DOCKYARD, *root, "import", str(rootfs_tar(tmp_path / "r.tar")), "app:1"],
                   check=True, capture_output=True, timeout=60)
    archive = tmp_path / "app.tar"
    code, shown = stderr_on_a_terminal([*root, "save", "-o", str(archive), "app:1"])
    assert code == 0 and b"Saving" in shown and re.search(rb"/30\d\.\d kB", shown)  # of ~300 kB
    code, shown = stderr_on_a_terminal([*root, "load", "-i", str(archive)])
    assert code == 0 and b"Loading" in shown
    code, shown = stderr_on_a_terminal([*root, "load", "-q", "-i", str(archive)])
    assert code == 0 and b"Loading" not in shown
    piped = subprocess.run([*DOCKYARD, *root, "save", "-o", str(archive), "app:1"],
                           capture_output=True, timeout=60)
    assert piped.returncode == 0 and piped.stderr == b""
    piped = subprocess.run([*DOCKYARD, *root, "load", "-i", str(archive)],
                           capture_output=True, timeout=60)
    assert piped.stdout == b"Loaded image: app:1\n" and piped.stderr == b""
