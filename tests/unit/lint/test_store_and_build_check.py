"""The CLI's link to the store (base-image ENV for UndefinedVar) and `check_for_build`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dockyard.cli.cmd_lint import check_for_build
from dockyard.cli.main import cli
from dockyard.store import Store

DOCKERFILE = """\
FROM python:3.12-slim
WORKDIR /opt/py-$PYTHON_VERSION
COPY app.py .
USER 1000
CMD ["python", "app.py"]
"""


def add_image(root: Path, name: str, env: list[str]) -> None:
    """A real image record in a real store: a config with `env` and a manifest naming it."""
    with Store(root) as store:
        config = json.dumps({
            "architecture": "amd64", "os": "linux", "config": {"Env": env},
            "rootfs": {"type": "layers", "diff_ids": []},
        }).encode()  # fmt: skip
        config_digest = store.content.write_bytes(config)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [],
        }).encode()  # fmt: skip
        store.images.add(store.content.write_bytes(manifest), config_digest, [name])


def undefined_lines(root: Path, context: Path) -> list[int]:
    result = CliRunner().invoke(
        cli, ["--root", str(root), "lint", str(context), "--format", "json"]
    )
    assert "Traceback" not in result.output
    return [f["line"] for f in json.loads(result.output) if f["code"] == "UndefinedVar"]


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "app.py").write_text("")
    return ctx


def test_base_image_env_in_the_store_defines_variables(tmp_path: Path, context: Path) -> None:
    root = tmp_path / "root"
    add_image(root, "python:3.12-slim", ["PATH=/usr/local/bin:/usr/bin", "PYTHON_VERSION=3.12.4"])
    assert undefined_lines(root, context) == []
    # Without CONTEXT too (the context rules do not run then, the store lookup does).
    result = CliRunner().invoke(cli, ["--root", str(root), "lint", "-f",
                                      str(context / "Dockerfile"), "--format", "json"])
    assert [f for f in json.loads(result.output) if f["code"] == "UndefinedVar"] == []


def test_variable_unknown_when_image_absent_or_lacks_it(tmp_path: Path, context: Path) -> None:
    missing_root = tmp_path / "no-store"
    assert undefined_lines(missing_root, context) == [2]
    assert not missing_root.exists()  # linting never creates a store
    root = tmp_path / "root"
    add_image(root, "python:3.12-slim", ["PATH=/usr/bin", "LANG=C.UTF-8"])
    assert undefined_lines(root, context) == [2]


def test_base_image_named_through_an_arg_default(tmp_path: Path, context: Path) -> None:
    root = tmp_path / "root"
    add_image(root, "python:3.12-slim", ["PYTHON_VERSION=3.12.4"])
    (context / "Dockerfile").write_text("ARG BASE=python:3.12-slim\nFROM $BASE\n"
                                        + DOCKERFILE.split("\n", 1)[1])
    assert undefined_lines(root, context) == []


def test_check_for_build_prints_findings_and_returns_the_exit_code(
    tmp_path: Path, context: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check_for_build(context, None, root=tmp_path / "no-store") == 1
    out = capsys.readouterr().out
    assert "Dockerfile:2 UndefinedVar" in out and "Check complete, 1 warning found." in out
    clean = DOCKERFILE.replace("-$PYTHON_VERSION", "")
    assert check_for_build(context, None, text=clean) == 0
    assert "Check complete, no warnings found." in capsys.readouterr().out
    # The context's lint config applies, as with `dockyard lint`.
    (context / ".dockyard-lint.yaml").write_text("ignored: [UndefinedVar]\n")
    assert check_for_build(context, context / "Dockerfile") == 0
