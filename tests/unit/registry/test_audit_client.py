"""Audit of issue #6 gaps: credsStore helpers, retries with backoff on 5xx, non-TTY login."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from dockyard.cli.main import cli
from dockyard.errors import Unavailable
from dockyard.transports.registry import auth
from dockyard.transports.registry.client import RegistryClient, RegistryOptions, registry_error

HELPER = """#!{python}
import json, sys
path = {vault!r}
try:
    data = json.load(open(path))
except FileNotFoundError:
    data = {{}}
action, payload = sys.argv[1], sys.stdin.read()
if action == "store":
    obj = json.loads(payload); data[obj["ServerURL"]] = obj; json.dump(data, open(path, "w"))
elif action == "get":
    if payload.strip() not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps(data[payload.strip()]))
elif action == "erase":
    data.pop(payload.strip(), None); json.dump(data, open(path, "w"))
"""


def test_creds_store_holds_every_registrys_login(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`credsStore` (one helper for all registries), as Docker Desktop and `pass` set it up."""
    bin_dir, vault = tmp_path / "bin", tmp_path / "vault.json"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-auditstore"
    helper.write_text(HELPER.format(python=os.sys.executable, vault=str(vault)))
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    config = tmp_path / "docker" / "config.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"credsStore": "auditstore"}))
    for host in ("a.example:5000", "docker.io"):
        auth.store_credentials(host, auth.Credentials("amy", f"pw-{host}"))
    assert set(json.loads(vault.read_text())) == {"a.example:5000", "https://index.docker.io/v1/"}
    assert "pw-" not in config.read_text()
    assert json.loads(config.read_text())["credsStore"] == "auditstore"
    assert auth.get_credentials("a.example:5000") == auth.Credentials("amy", "pw-a.example:5000")
    assert auth.get_credentials("registry-1.docker.io") == auth.Credentials("amy", "pw-docker.io")
    assert auth.get_credentials("b.example") is None
    assert auth.erase_credentials("a.example:5000")
    assert auth.get_credentials("a.example:5000") is None


def test_missing_helper_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "no-such-helper-here"}))
    with pytest.raises(Unavailable, match="docker-credential-no-such-helper-here not found"):
        auth.get_credentials("a.example:5000")


class Flaky(BaseHTTPRequestHandler):
    """/v2/ answers 200; a blob answers 503 `failures` times, then its bytes."""

    failures = 0
    seen: list[float] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/v2/":
            self._answer(200, b"{}")
            return
        type(self).seen.append(time.monotonic())
        if len(self.seen) <= self.failures:
            self._answer(503, b'{"errors":[{"code":"UNAVAILABLE","message":"busy"}]}')
        else:
            self._answer(200, b"blob bytes")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[tuple[str, type[Flaky]]]:
    handler = type("Handler", (Flaky,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_5xx_is_retried_with_growing_delays(flaky: tuple[str, type[Flaky]]) -> None:
    host, handler = flaky
    handler.failures = 2
    options = RegistryOptions(retries=4, backoff=0.05)
    with RegistryClient(host, options, scheme="http") as client:
        resp = client.request("GET", "/v2/x/blobs/sha256:abc")
    assert resp.status_code == 200 and resp.content == b"blob bytes"
    t = handler.seen
    assert len(t) == 3
    assert t[1] - t[0] >= 0.05 and t[2] - t[1] >= 0.1  # backoff doubles


def test_5xx_that_never_ends_gives_up_with_one_error(flaky: tuple[str, type[Flaky]]) -> None:
    host, handler = flaky
    handler.failures = 100
    with RegistryClient(host, RegistryOptions(retries=3, backoff=0.01), scheme="http") as client:
        resp = client.request("GET", "/v2/x/blobs/sha256:abc")
    assert resp.status_code == 503 and len(handler.seen) == 3
    error = registry_error(resp, "pull x")
    assert isinstance(error, Unavailable) and "UNAVAILABLE" in error.message


def test_login_without_a_terminal_needs_password_stdin(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    for args in (["login", "127.0.0.1:1"], ["login", "-u", "amy", "127.0.0.1:1"]):
        result = CliRunner().invoke(cli, args, input="secret\n", env=env)
        assert result.exit_code == 125, result.output
        assert "Cannot perform an interactive login from a non TTY device" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "docker").exists()
