"""dockyard's own rules, with and without a build context."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.lint.context import from_directory

NO_CONTEXT = [
    ("DY0001", "FROM a:1\nRUN echo a \\\n\n  b\n", "FROM a:1\nRUN echo a \\\n  b\n"),
    ("DY0002", "FROM a:1\nRUN apt-get update && apt-get upgrade -y\n",
     "FROM a:1\nRUN apt-get update\n"),
    ("DY0003", "FROM a:1\nADD https://x.io/f.tgz /f.tgz\n",
     "FROM a:1\nADD --checksum=sha256:00 https://x.io/f.tgz /f.tgz\n"),
    ("DY0004", "FROM a:1\nWORKDIR /app\nCOPY . .\nRUN chown -R app:app /app\n",
     "FROM a:1\nWORKDIR /app\nCOPY --chown=app:app . .\nRUN chown -R app /var/log/app\n"),
    ("DY0007", "FROM a:1\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n",
     "FROM a:1\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
     "COPY . .\n"),
    ("DY0008", "FROM a:1\nCMD [\"x\"]\n", "FROM a:1\nUSER 1000\nCMD [\"x\"]\n"),
    ("DY0009", "FROM a:1\nRUN apt-get install -y gcc\n",
     "FROM a:1 AS b\nRUN apt-get install -y gcc\nFROM a:1\nCOPY --from=b /out /out\n"),
    ("DY0010", 'FROM a:1\nCMD ["sh", "-c", "nginx & gunicorn app"]\n',
     'FROM a:1\nCMD ["gunicorn", "app"]\n'),
    ("DY0010", 'FROM a:1\nCMD ["/usr/bin/supervisord"]\n', 'FROM a:1\nCMD ["nginx"]\n'),
]


@pytest.mark.parametrize(("rule", "bad", "good"), NO_CONTEXT, ids=[c[0] for c in NO_CONTEXT])
def test_dockyard_rule(codes: Callable[..., list[str]], rule: str, bad: str, good: str) -> None:
    assert rule in codes(bad), bad
    assert rule not in codes(good), good


def test_parse_error_is_one_finding(codes: Callable[..., list[str]]) -> None:
    from dockyard.lint.runner import lint_text

    findings = lint_text("FROM a:1\nENV PATH\n")
    assert [f.rule for f in findings] == ["DY0000"]
    assert findings[0].line == 2


def _context(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return tmp_path


APP = "FROM a:1\nWORKDIR /app\nCOPY . .\nUSER 1000\n"


def test_secret_in_context_is_reported(codes: Callable[..., list[str]], tmp_path: Path) -> None:
    ctx = _context(tmp_path, {".env": "X=1", "app.py": "", ".dockerignore": "*.md\n"})
    assert "DY0005" in codes(APP, context=from_directory(ctx))


def test_ignored_secret_is_not_reported(codes: Callable[..., list[str]], tmp_path: Path) -> None:
    ctx = _context(tmp_path, {".env": "X=1", "keys/id_rsa": "k", ".dockerignore": ".env\nkeys\n"})
    assert "DY0005" not in codes(APP, context=from_directory(ctx))


def test_missing_dockerignore(codes: Callable[..., list[str]], tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"node_modules/x/index.js": "", "app.js": ""})
    assert "DY0006" in codes(APP, context=from_directory(ctx))
    (tmp_path / ".dockerignore").write_text("node_modules\n")
    assert "DY0006" not in codes(APP, context=from_directory(ctx))


def test_copy_of_ignored_file(codes: Callable[..., list[str]], tmp_path: Path) -> None:
    ctx = _context(tmp_path, {"config.yaml": "", "app.py": "", ".dockerignore": "config.yaml\n"})
    text = "FROM a:1\nCOPY config.yaml /etc/app/\nCOPY app.py /app/\nUSER 1\n"
    found = codes(text, context=from_directory(ctx))
    assert found.count("CopyIgnoredFile") == 1


def test_context_rules_do_not_run_without_context(codes: Callable[..., list[str]]) -> None:
    assert not {"DY0005", "DY0006", "CopyIgnoredFile"} & set(codes(APP))
