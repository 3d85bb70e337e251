"""Docker config.json credentials, credential helpers, challenges, insecure rules, decompression."""

from __future__ import annotations

import base64
import gzip
import json
import os
import stat
from pathlib import Path

import pytest
import zstandard

from dockyard.errors import InvalidArgument
from dockyard.transports.registry import auth
from dockyard.transports.registry.client import is_insecure, load_options
from dockyard.transports.registry.layerfetch import Decompressor


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    return tmp_path / "docker" / "config.json"


def test_store_and_read_auths_like_docker(docker_config: Path) -> None:
    auth.store_credentials("127.0.0.1:5000", auth.Credentials("u", "p:w"))
    data = json.loads(docker_config.read_text())
    assert data["auths"]["127.0.0.1:5000"]["auth"] == base64.b64encode(b"u:p:w").decode()
    assert stat.S_IMODE(docker_config.stat().st_mode) == 0o600
    assert auth.get_credentials("127.0.0.1:5000") == auth.Credentials("u", "p:w")
    assert auth.get_credentials("other:5000") is None
    assert auth.erase_credentials("127.0.0.1:5000")
    assert auth.get_credentials("127.0.0.1:5000") is None
    assert not auth.erase_credentials("127.0.0.1:5000")


def test_docker_hub_key_and_existing_entries(docker_config: Path) -> None:
    docker_config.parent.mkdir(parents=True)
    token = base64.b64encode(b"hub:secret").decode()
    docker_config.write_text(json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": token}},
                                         "HttpHeaders": {"X": "kept"}}))
    for name in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        assert auth.get_credentials(name) == auth.Credentials("hub", "secret")
    auth.store_credentials("docker.io", auth.Credentials("hub", "new"))
    data = json.loads(docker_config.read_text())
    assert list(data["auths"]) == ["https://index.docker.io/v1/"]
    assert data["HttpHeaders"] == {"X": "kept"}


def test_broken_config_is_a_clear_error(docker_config: Path) -> None:
    docker_config.parent.mkdir(parents=True)
    docker_config.write_text("{oops")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        auth.get_credentials("x")


def test_credential_helper_protocol(docker_config: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A docker-credential-* program on PATH, spoken to over stdin/stdout as Docker does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    vault = tmp_path / "vault.json"
    helper = bin_dir / "docker-credential-testvault"
    helper.write_text(f"""#!{os.sys.executable}
import json, sys
path = {str(vault)!r}
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
""")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    docker_config.parent.mkdir(parents=True)
    docker_config.write_text(json.dumps({"credHelpers": {"reg.example:5000": "testvault"}}))
    assert auth.get_credentials("reg.example:5000") is None
    auth.store_credentials("reg.example:5000", auth.Credentials("bob", "pw"))
    assert json.loads(vault.read_text())["reg.example:5000"]["Secret"] == "pw"
    assert "pw" not in docker_config.read_text()
    assert auth.get_credentials("reg.example:5000") == auth.Credentials("bob", "pw")
    assert auth.erase_credentials("reg.example:5000")
    assert auth.get_credentials("reg.example:5000") is None


def test_parse_challenges() -> None:
    got = auth.parse_challenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull", Basic realm="x"')
    assert got[0].scheme == "bearer"
    assert got[0].params == {"realm": "https://auth.docker.io/token",
                             "service": "registry.docker.io",
                             "scope": "repository:library/busybox:pull"}
    assert got[1] == auth.Challenge("basic", {"realm": "x"})


@pytest.mark.parametrize("host,listed,expected", [
    ("localhost:5000", [], True),
    ("127.0.0.1:5000", [], True),
    ("127.8.9.1", [], True),
    ("[::1]:5000", [], True),
    ("registry.example:5000", [], False),
    ("registry.example:5000", ["registry.example:5000"], True),
    ("10.1.2.3:5000", ["10.0.0.0/8"], True),
    ("11.1.2.3:5000", ["10.0.0.0/8"], False),
])
def test_insecure_rules(host: str, listed: list[str], expected: bool) -> None:
    assert is_insecure(host, listed) is expected


def test_options_file(tmp_path: Path) -> None:
    conf = tmp_path / "registries.json"
    conf.write_text(json.dumps({"insecure-registries": ["a:1"],
                                "registry-mirrors": ["https://mirror.example/"]}))
    opts = load_options(["b:2"], conf)
    assert opts.insecure == ("a:1", "b:2") and opts.mirrors == ("https://mirror.example",)


@pytest.mark.parametrize("kind", ["gzip", "zstd", ""])
def test_decompressor_multi_member_and_detection(kind: str) -> None:
    parts = [os.urandom(300_000), b"a" * 3_000_000]
    if kind == "gzip":
        blob = b"".join(gzip.compress(p) for p in parts)
    elif kind == "zstd":
        blob = b"".join(zstandard.ZstdCompressor().compress(p) for p in parts)
    else:
        blob = b"".join(parts)
    d = Decompressor(None)
    out = b"".join(piece for i in range(0, len(blob), 65536)
                   for piece in d.feed(blob[i:i + 65536])) + d.finish()
    assert out == b"".join(parts) and d.kind == kind
