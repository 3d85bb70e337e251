"""Registry credentials in Docker's config.json (auths, credsStore, credHelpers) and auth challenges.

`~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`) is read and written exactly as
Docker does, so an existing `docker login` keeps working and ours works for Docker.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument, Unavailable
from dockyard.records import FrozenRecord

INDEX_SERVER = "https://index.docker.io/v1/"
_DOCKER_HUB_ALIASES = {
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    INDEX_SERVER,
    "https://index.docker.io/v1",
    "https://registry-1.docker.io",
}


class Credentials(FrozenRecord):
    """A login: user name and password (or an identity token when username is "<token>")."""

    username: str
    password: str

    def __init__(self, username: str, password: str) -> None:
        self._set(username=username, password=password)

    @property
    def is_identity_token(self) -> bool:
        return self.username == "<token>"


def config_dir() -> Path:
    env = os.environ.get("DOCKER_CONFIG")
    if env:
        return Path(env)
    return Path(os.path.expanduser("~")) / ".docker"


def config_path() -> Path:
    return config_dir() / "config.json"


def server_key(registry: str) -> str:
    """The config.json key of a registry: Docker Hub's legacy URL, else the bare host[:port]."""
    host = registry.strip()
    if host in _DOCKER_HUB_ALIASES:
        return INDEX_SERVER
    for prefix in ("https://", "http://"):
        if host.startswith(prefix):
            host = host[len(prefix) :]
    host = host.split("/", 1)[0]
    return INDEX_SERVER if host in _DOCKER_HUB_ALIASES else host


def load_config(path: Path | None = None) -> dict[str, Any]:
    path = path or config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise InvalidArgument(f"cannot read {path}: {exc.strerror}") from exc
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"{path} is not valid JSON (line {exc.lineno})", hint="fix or remove the file"
        ) from exc
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path} must hold a JSON object", hint="fix or remove the file")
    return data


def save_config(data: dict[str, Any], path: Path | None = None) -> None:
    """Write config.json atomically (temp file + rename), private to its owner."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.json.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent="\t")
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _helper_for(data: dict[str, Any], key: str) -> str | None:
    helpers = data.get("credHelpers") or {}
    host = key if key != INDEX_SERVER else "docker.io"
    if isinstance(helpers, dict):
        for name in (key, host):
            if isinstance(helpers.get(name), str) and helpers[name]:
                return str(helpers[name])
    store = data.get("credsStore")
    return store if isinstance(store, str) and store else None


def _run_helper(helper: str, action: str, payload: str) -> str:
    import subprocess  # lazily: only credential helpers need it

    exe = f"docker-credential-{helper}"
    try:
        out = subprocess.run(
            [exe, action], input=payload, capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError as exc:
        raise Unavailable(
            f"credential helper {exe} not found in PATH",
            hint=f'install it, or remove "{helper}" from credsStore/credHelpers in {config_path()}',
        ) from exc
    if out.returncode != 0:
        message = out.stdout.strip() or out.stderr.strip()
        if action == "get" and "credentials not found" in message.lower():
            return ""
        raise Unavailable(f"credential helper {exe} {action} failed: {message or out.returncode}")
    return out.stdout


def get_credentials(registry: str, path: Path | None = None) -> Credentials | None:
    """The stored login for `registry` (helpers first, then `auths`), or None."""
    data = load_config(path)
    key = server_key(registry)
    helper = _helper_for(data, key)
    if helper is not None:
        out = _run_helper(helper, "get", key)
        if out.strip():
            try:
                obj = json.loads(out)
                return Credentials(str(obj["Username"]), str(obj["Secret"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise Unavailable(f"credential helper {helper} answered garbage") from exc
        return None
    auths = data.get("auths") or {}
    entry = _find_auth(auths, key) if isinstance(auths, dict) else None
    if not entry:
        return None
    if entry.get("identitytoken"):
        return Credentials("<token>", str(entry["identitytoken"]))
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, TypeError) as exc:
            raise InvalidArgument(
                f"{path or config_path()}: the auth entry of {key} is not valid base64"
            ) from exc
        return Credentials(user, password)
    if entry.get("username"):
        return Credentials(str(entry["username"]), str(entry.get("password", "")))
    return None


def _find_auth(auths: dict[str, Any], key: str) -> dict[str, Any] | None:
    for name, entry in auths.items():
        if server_key(name) == key and isinstance(entry, dict):
            return entry
    return None


def store_credentials(registry: str, creds: Credentials, path: Path | None = None) -> str:
    """Save a login the way Docker does; returns where it went (a helper name or the file)."""
    data = load_config(path)
    key = server_key(registry)
    helper = _helper_for(data, key)
    if helper is not None:
        payload = json.dumps(
            {"ServerURL": key, "Username": creds.username, "Secret": creds.password}
        )
        _run_helper(helper, "store", payload)
        auths = data.setdefault("auths", {})
        auths[key] = {}
        save_config(data, path)
        return f"docker-credential-{helper}"
    auths = data.setdefault("auths", {})
    for name in [n for n in auths if server_key(n) == key]:
        del auths[name]
    token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
    auths[key] = {"auth": token}
    save_config(data, path)
    return str(path or config_path())


def erase_credentials(registry: str, path: Path | None = None) -> bool:
    """Forget a login; False when there was none."""
    data = load_config(path)
    key = server_key(registry)
    found = False
    helper = _helper_for(data, key)
    if helper is not None:
        try:
            _run_helper(helper, "erase", key)
            found = True
        except Unavailable:
            pass
    auths = data.get("auths") or {}
    for name in [n for n in auths if server_key(n) == key]:
        del auths[name]
        found = True
    if found:
        save_config(data, path)
    return found


# -- challenges ----------------------------------------------------------------------------

_PARAM_RE = re.compile(r'([a-zA-Z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


class Challenge(FrozenRecord):
    """One WWW-Authenticate challenge: its scheme ("basic" or "bearer") and parameters."""

    scheme: str
    params: dict[str, str]

    def __init__(self, scheme: str, params: dict[str, str]) -> None:
        self._set(scheme=scheme, params=params)


def parse_challenges(header: str) -> list[Challenge]:
    """`WWW-Authenticate: Bearer realm="...",service="..." , Basic realm=".."` -> challenges."""
    out: list[Challenge] = []
    rest = header.strip()
    while rest:
        m = re.match(r"([A-Za-z][\w-]*)\s*", rest)
        if not m:
            break
        scheme = m.group(1).lower()
        rest = rest[m.end() :]
        params: dict[str, str] = {}
        while True:
            pm = _PARAM_RE.match(rest)
            if not pm:
                break
            value = pm.group(2) if pm.group(2) is not None else pm.group(3)
            params[pm.group(1).lower()] = value.replace('\\"', '"')
            rest = rest[pm.end() :].lstrip()
            if rest.startswith(","):
                rest = rest[1:].lstrip()
        out.append(Challenge(scheme, params))
    return out
