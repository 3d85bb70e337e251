"""Audit of issue #3: DOCKYARD_ROOT chooses the store, and --root beats it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from click.testing import CliRunner

from dockyard.cli.main import cli


def _rootfs() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    return buf.getvalue()


def test_env_root_is_used_and_flag_overrides_it(tmp_path: Path) -> None:
    env_root, flag_root = tmp_path / "from-env", tmp_path / "from-flag"
    runner = CliRunner(env={"DOCKYARD_ROOT": str(env_root)})
    result = runner.invoke(cli, ["import", "-", "envimg:1"], input=_rootfs())
    assert result.exit_code == 0, result.output
    assert (env_root / "metadata.db").exists()
    listed = runner.invoke(cli, ["images", "--format", "{{.Repository}}"])
    assert listed.output.split() == ["envimg"]
    other = runner.invoke(cli, ["--root", str(flag_root), "images", "-q"])
    assert other.exit_code == 0 and other.output == ""
    assert (flag_root / "metadata.db").exists()
