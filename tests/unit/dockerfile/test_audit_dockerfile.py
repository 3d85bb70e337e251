"""Audit of issue #2 gaps: the error excerpt says what was expected, FROM --platform, the example."""

from __future__ import annotations

import ast
from pathlib import Path

from click.testing import CliRunner

from dockyard.cli.main import cli
from dockyard.dockerfile.stages import load

REPO = Path(__file__).resolve().parents[3]


def test_cli_error_points_at_the_column_and_says_what_was_expected(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM alpine AS 1st\nRUN true\n")
    out = CliRunner().invoke(cli, ["dockerfile", "parse", "--strict", str(path)])
    assert out.exit_code == 1 and "Traceback" not in out.output
    first, excerpt, marker = out.output.splitlines()[:3]
    assert first.startswith(f"Error: {path}:1:16: invalid name for build stage")
    assert excerpt.endswith("| FROM alpine AS 1st")
    # the caret sits under the bad word, followed by what would have been accepted
    assert marker.index("^") - marker.index("|") == excerpt.index("1st") - excerpt.index("|")
    assert "expected a stage name" in marker


def test_unterminated_heredoc_names_the_delimiter_expected(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text("FROM alpine\nRUN <<END\necho hi\n")
    out = CliRunner().invoke(cli, ["dockerfile", "parse", str(path)])
    assert out.exit_code == 1
    assert f"{path}:2:" in out.output and "expected a line holding only END" in out.output


def test_from_platform_flag_and_stage_name() -> None:
    stages = load("FROM --platform=$BUILDPLATFORM golang:1.22 AS Build\nRUN x\n"
                  "FROM --platform=linux/arm64 build\n").stages
    first, second = (stage.from_ for stage in stages)
    assert (first.base, first.stage_name, first.platform) == ("golang:1.22", "build",
                                                              "$BUILDPLATFORM")
    assert (second.base, second.platform) == ("build", "linux/arm64")


def test_flask_example_is_the_tutorials_app() -> None:
    flask = REPO / "examples" / "flask"
    assert (flask / "Dockerfile").read_text().split("\n\n") == [
        "FROM python:3.11-slim", "WORKDIR /app",
        "COPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt",
        "COPY app.py .", "EXPOSE 5000", 'CMD ["python", "app.py"]\n',
    ]
    assert (flask / "requirements.txt").read_text().split() == ["flask==3.0.0"]
    assert (flask / ".dockerignore").read_text().split() == [
        "__pycache__", "*.pyc", ".git", ".env", "node_modules", ".venv"]
    app = (flask / "app.py").read_text()
    answer = {"message": "Hello from NextGen Playground!", "status": "running"}
    jsonified = [n for n in ast.walk(ast.parse(app)) if isinstance(n, ast.Dict)]
    assert [ast.literal_eval(d) for d in jsonified] == [answer]
    assert "host='0.0.0.0', port=5000" in app
