"""Server-side access control: bcrypt htpasswd users, by Basic auth or by bearer tokens it issues."""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from dockyard.errors import InvalidArgument

TOKEN_TTL = 300


def load_htpasswd(path: Path) -> dict[str, bytes]:
    """user -> bcrypt hash, from an `htpasswd -B` file; InvalidArgument for other hash kinds."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidArgument(
            f"cannot read htpasswd file {path}: {exc.strerror}",
            hint="create it with: htpasswd -Bbc FILE USER PASSWORD",
        ) from exc
    users: dict[str, bytes] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not hashed.startswith(("$2y$", "$2b$", "$2a$")):
            raise InvalidArgument(
                f"{path}:{number}: only bcrypt entries are supported",
                hint="create entries with: htpasswd -Bb FILE USER PASSWORD",
            )
        users[user] = hashed.encode()
    return users


def parse_basic(header: str) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic ...` header, or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


@dataclass
class Grant:
    user: str
    scopes: dict[str, set[str]]  # repository -> actions
    expires: float


class Authenticator:
    """Checks passwords (bcrypt verified once per distinct password) and issues tokens."""

    def __init__(self, users: dict[str, bytes]) -> None:
        self.users = users
        self._verified: set[tuple[str, bytes, str]] = set()
        self._tokens: dict[str, Grant] = {}
        self._lock = threading.Lock()

    def check_password(self, user: str, password: str) -> bool:
        hashed = self.users.get(user)
        if hashed is None:
            return False
        key = (user, hashed, password)
        if key in self._verified:
            return True
        if bcrypt.checkpw(password.encode(), hashed.replace(b"$2y$", b"$2b$", 1)):
            self._verified.add(key)
            return True
        return False

    def check_basic(self, header: str) -> str | None:
        """The user an Authorization header proves, or None."""
        creds = parse_basic(header)
        if creds is None:
            return None
        return creds[0] if self.check_password(*creds) else None

    def issue(self, user: str, scopes: list[str]) -> str:
        """A token granting `user` the requested `repository:NAME:actions` scopes."""
        granted: dict[str, set[str]] = {}
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) >= 3 and parts[0] == "repository":
                repo = ":".join(parts[1:-1])
                granted.setdefault(repo, set()).update(a for a in parts[-1].split(",") if a)
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.time()
            self._tokens = {t: g for t, g in self._tokens.items() if g.expires > now}
            self._tokens[token] = Grant(user, granted, now + TOKEN_TTL)
        return token

    def check_bearer(self, header: str, repo: str | None, action: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        grant = self._tokens.get(token.strip())
        if grant is None or grant.expires < time.time():
            return False
        if repo is None:
            return True
        actions = grant.scopes.get(repo, set())
        return action in actions or "*" in actions
