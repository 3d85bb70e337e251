"""`dockyard version` and `dockyard info` report what a docker user expects to see."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from click.testing import CliRunner

from dockyard import __version__
from dockyard.cli.main import cli


def _rootfs_tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        data = b"hello\n"
        member = tarfile.TarInfo("etc/motd")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return path


def test_version_names_dockyard_and_the_runtime() -> None:
    result = CliRunner().invoke(cli, ["version"])
    assert result.exit_code == 0, result.output
    assert f" Version: {__version__}\n" in result.output
    assert " runc: " in result.output and " conmon: " in result.output


def test_info_counts_the_images_of_the_chosen_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    runner = CliRunner()
    first = runner.invoke(cli, ["--root", str(root), "info"])
    assert first.exit_code == 0, first.output
    assert "Images: 0\n" in first.output
    assert f"Dockyard Root Dir: {root}\n" in first.output
    imported = runner.invoke(cli, ["--root", str(root), "import", str(_rootfs_tar(tmp_path / "r.tar")), "x:1"])
    assert imported.exit_code == 0, imported.output
    second = runner.invoke(cli, ["--root", str(root), "info"])
    assert "Images: 1\n" in second.output
    assert "Containers: 0\n" in second.output
