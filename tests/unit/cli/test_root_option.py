"""`--root` chooses the store whether it comes before or after the command name."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dockyard.cli.main import cli


def test_root_after_the_command_name_is_the_store_used(tmp_path: Path) -> None:
    root = tmp_path / "store"
    result = CliRunner().invoke(cli, ["images", "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "REPOSITORY" in result.output
    assert (root / "metadata.db").exists()


def test_root_before_the_command_name_still_works(tmp_path: Path) -> None:
    root = tmp_path / "store"
    result = CliRunner().invoke(cli, ["--root", str(root), "images", "-q"])
    assert result.exit_code == 0, result.output
    assert (root / "metadata.db").exists()


def test_root_that_is_a_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "file"
    bad.write_text("x")
    result = CliRunner().invoke(cli, ["images", "--root", str(bad)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
