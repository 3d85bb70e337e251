"""Audit of issue #7: colour only on a terminal, what each finding carries, threshold levels."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCKYARD = [sys.executable, "-m", "dockyard.cli.entry"]  # what the `dockyard` executable runs
ESC = b"\x1b["


def on_a_terminal(*args: str) -> tuple[int, bytes]:
    """Run dockyard with stdout on a pseudo-terminal; (exit code, what the terminal showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*DOCKYARD, *args], stdout=slave, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, cwd=REPO)
    os.close(slave)
    shown = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        shown += data
    os.close(master)
    return proc.wait(timeout=60), shown


def test_terminal_gets_colour_pipe_does_not() -> None:
    code, shown = on_a_terminal("lint", "examples/flask")
    assert code == 1 and b"DY0008" in shown
    assert ESC + b"33mwarning" in shown  # warnings in yellow
    piped = subprocess.run([*DOCKYARD, "lint", "examples/flask"], capture_output=True, cwd=REPO,
                           timeout=60)
    assert piped.returncode == 1 and b"DY0008" in piped.stdout
    assert ESC not in piped.stdout


def test_no_color_flag_and_machine_formats_stay_plain_on_a_terminal() -> None:
    for extra in (["--no-color"], ["--format", "json"], ["--format", "sarif"]):
        code, shown = on_a_terminal("lint", "examples/flask", *extra)
        assert code == 1 and b"DY0008" in shown, extra
        assert ESC not in shown, extra


def test_every_finding_has_id_severity_place_message_hint_and_doc_link(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\nLABEL bad_Key=1\n")
    out = subprocess.run([*DOCKYARD, "lint", str(tmp_path), "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    findings = json.loads(out.stdout)
    assert {f["code"] for f in findings} >= {"DL3008", "DL3009", "DL3059", "DY0008"}
    for f in findings:
        assert f["level"] in ("error", "warning", "info", "style")
        assert f["file"].endswith("Dockerfile") and f["line"] >= 1
        assert f["message"] and f["hint"]
        assert f["url"] == f"docs/lint/{f['code']}.md" and (REPO / f["url"]).is_file()
    tty = subprocess.run([*DOCKYARD, "lint", str(tmp_path)], capture_output=True, text=True,
                         timeout=60).stdout
    assert f"{tmp_path / 'Dockerfile'}:3 DL3008 warning: " in tty
    assert "(docs/lint/DL3008.md)" in tty


@pytest.mark.parametrize("threshold,code", [
    ("none", 0), ("error", 0), ("warning", 0), ("info", 1), ("style", 1)])
def test_failure_threshold_levels(tmp_path: Path, threshold: str, code: int) -> None:
    # two info-level findings (DL3059 consecutive RUNs, DL3047 wget progress) and nothing worse
    (tmp_path / "Dockerfile").write_text(
        "FROM debian:12.5\nRUN wget -O /x https://example.com/x\nRUN echo hi\nUSER 1000\n")
    out = subprocess.run([*DOCKYARD, "lint", str(tmp_path), "--failure-threshold", threshold,
                          "--format", "json"], capture_output=True, text=True, timeout=60)
    levels = {f["level"] for f in json.loads(out.stdout)}
    assert levels == {"info"}, out.stdout
    assert out.returncode == code
