"""The `dockyard` executable's entry: what it answers itself, and what it leaves to click."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli import entry


@pytest.mark.parametrize("argv", [
    [], ["--version"], ["-h"], ["ps", "-a"], ["images"], ["run", "--help"], ["build", "--help"],
    ["run"], ["run", "--bogus", "img"], ["build", "--check", "."], ["build", "a", "b"],
    ["--unknown-global", "run", "img"], ["image", "ls"], ["container", "ls"],
])  # fmt: skip
def test_everything_else_goes_to_click(argv: list[str]) -> None:
    assert entry.fast(argv) is None


def test_a_root_that_is_a_file_goes_to_click_for_its_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    assert entry.fast(["--root", str(tmp_path / "f"), "run", "img"]) is None


def test_run_of_a_missing_image_is_one_error_line_and_125(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = entry.fast(["--root", str(tmp_path / "root"), "run", "--rm", "no-such-image:1", "true"])
    assert code == 125
    err = capsys.readouterr().err
    assert err == "Error: No such image: no-such-image:1\n"


def test_root_after_the_command_name_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = entry.fast(["--root", str(tmp_path / "a"), "build", "--root", str(tmp_path / "b"),
                       str(tmp_path / "missing-context")])  # fmt: skip
    assert code == 125
    assert "missing-context" in capsys.readouterr().err
    assert (tmp_path / "b").is_dir() and not (tmp_path / "a").exists()
