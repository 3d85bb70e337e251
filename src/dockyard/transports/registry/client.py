"""An HTTP client for one registry: scheme choice, insecure rules, auth challenges, retries.

Plain HTTP (or unverified TLS) is used only for registries the user marks insecure
(`--insecure-registry`, or "insecure-registries" in the config file) and, as Docker
does, for localhost and 127.0.0.0/8. Docker Hub is reached at registry-1.docker.io.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import DockyardError, InvalidArgument, NotFound, Unavailable
from dockyard.records import Record
from dockyard.transports.registry.auth import (
    Challenge,
    Credentials,
    get_credentials,
    parse_challenges,
)
from dockyard.transports.registry.http import Response, Transport, TransportError
from dockyard.transports.registry.tls import (
    DEFAULT_CERTS_DIRS,
    certs_dirs_from_env,
    is_untrusted_certificate,
    ssl_context,
)

if TYPE_CHECKING:
    import ssl

DEFAULT_CONFIG = Path("/etc/dockyard/registries.json")
RETRY_STATUS = {408, 429, 500, 502, 503, 504}
Body = bytes | Callable[[], Iterable[bytes]] | None
USER_AGENT = "dockyard/0.1"


class AuthError(InvalidArgument):
    """The registry refused our credentials (or wants some)."""

    code = "unauthorized"


class RegistryOptions(Record):
    """How to reach registries: insecure hosts, mirrors, TLS files, retries."""

    def __init__(
        self,
        insecure: tuple[str, ...] = (),
        mirrors: tuple[str, ...] = (),  # Docker Hub's ("registry-mirrors")
        registry_mirrors: dict[str, tuple[str, ...]] | None = None,  # other hosts'
        certs_dirs: tuple[Path, ...] = DEFAULT_CERTS_DIRS,
        retries: int = 4,
        backoff: float = 0.2,
        timeout: float = 60.0,
        docker_config: Path | None = None,
        credentials: dict[str, Credentials] | None = None,
    ) -> None:
        self.insecure = insecure
        self.mirrors = mirrors
        self.registry_mirrors: dict[str, tuple[str, ...]] = (
            {} if registry_mirrors is None else registry_mirrors
        )
        self.certs_dirs = certs_dirs
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.docker_config = docker_config
        self.credentials: dict[str, Credentials] = {} if credentials is None else credentials


def load_options(insecure: Iterable[str] = (), config: Path | None = None) -> RegistryOptions:
    """Options from the config file (`$DOCKYARD_REGISTRIES_CONF` or /etc/dockyard/registries.json,
    keys "insecure-registries" and "registry-mirrors" as in Docker's daemon.json, and
    "mirrors": {"host[:port]": ["mirror[:port]", ...]} for registries other than Docker Hub)
    plus flags; TLS files from certs.d directories (`$DOCKYARD_CERTS_D` overrides)."""
    path = config or Path(os.environ.get("DOCKYARD_REGISTRIES_CONF", str(DEFAULT_CONFIG)))
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text() or "{}")
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidArgument(
                f"cannot read registry config {path}: {exc}", hint="fix the JSON or remove the file"
            ) from exc
    listed = [str(x) for x in data.get("insecure-registries") or []]
    mirrors = [str(x).rstrip("/") for x in data.get("registry-mirrors") or []]
    others = data.get("mirrors") or {}
    if not isinstance(others, dict):
        raise InvalidArgument(
            f'{path}: "mirrors" must map registry hosts to lists of mirrors',
            hint='e.g. {"mirrors": {"registry.example:5000": ["mirror:5000"]}}',
        )
    per_host = {str(h): tuple(str(m).rstrip("/") for m in (v or [])) for h, v in others.items()}
    return RegistryOptions(
        insecure=tuple([*listed, *insecure]),
        mirrors=tuple(mirrors),
        registry_mirrors=per_host,
        certs_dirs=certs_dirs_from_env(),
    )


def _split_host(host: str) -> tuple[str, bool]:
    """(the name or address in `host:port`, whether a port is given)."""
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest.startswith(":")
    if host.count(":") == 1:
        return host.split(":", 1)[0], True
    return host, False


def _ipv4_loopback(name: str) -> bool | None:
    """For a dotted-quad IPv4 address, whether it is in 127.0.0.0/8; None for anything else."""
    parts = name.split(".")
    if len(parts) != 4 or not all(p.isdigit() and p.isascii() and len(p) <= 3 for p in parts):
        return None
    if any(int(p) > 255 or (len(p) > 1 and p[0] == "0") for p in parts):
        return None
    return parts[0] == "127"


def is_insecure(host: str, insecure: Iterable[str]) -> bool:
    """True for localhost, 127.0.0.0/8, ::1 and hosts or CIDRs the user listed."""
    name = _split_host(host)[0]
    if name == "localhost" or _ipv4_loopback(name):
        return True
    listed = [
        item.strip().removeprefix("http://").removeprefix("https://").rstrip("/")
        for item in insecure
    ]
    if host in listed or name in listed:
        return True
    if ":" not in name and (_ipv4_loopback(name) is None or not any("/" in i for i in listed)):
        return False  # a host name, or an IPv4 address and no CIDR listed
    import ipaddress  # only for addresses (IPv6, or matched against CIDRs)

    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if ip.is_loopback:
        return True
    for item in listed:
        if "/" in item:
            try:
                if ip in ipaddress.ip_network(item, strict=False):
                    return True
            except ValueError:
                continue
    return False


def endpoint_host(domain: str) -> str:
    return "registry-1.docker.io" if domain in ("docker.io", "index.docker.io") else domain


def registry_error(resp: Response, what: str) -> DockyardError:
    """A DockyardError from a registry's error answer (spec error bodies decoded)."""
    detail = ""
    try:
        errors = resp.json().get("errors") or []
        if errors:
            first = errors[0]
            detail = f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        detail = ""
    detail = detail or f"HTTP {resp.status_code}"
    message = f"{what}: {detail}"
    if resp.status_code in (401, 403):
        return AuthError(message, hint="log in with `dockyard login` (wrong username or password?)")
    if resp.status_code == 404:
        return NotFound(message)
    if 400 <= resp.status_code < 500:
        return InvalidArgument(message)
    return Unavailable(message, hint="the registry failed; try again later")


class RegistryClient:
    """Requests to one registry host, authenticated and retried. Thread-safe."""

    def __init__(
        self,
        host: str,
        options: RegistryOptions | None = None,
        credentials: Credentials | None = None,
        scheme: str | None = None,
    ) -> None:
        self.host = host
        self.options = options or RegistryOptions()
        self.insecure = is_insecure(host, self.options.insecure)
        self._scheme = scheme
        self._explicit = credentials
        self._creds_loaded = credentials is not None
        self._creds = credentials
        self._challenge: Challenge | None = None
        self._pinged = False
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self.http = Transport(self._tls_context, timeout=self.options.timeout)

    def _tls_context(self, netloc: str) -> ssl.SSLContext:
        """The TLS context for the registry (verified unless insecure) or a host it
        redirects to (a storage host: verified unless the user listed it insecure)."""
        verify = not (
            self.insecure if netloc == self.host else is_insecure(netloc, self.options.insecure)
        )
        return ssl_context(netloc, self.options.certs_dirs, verify=verify)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connection --------------------------------------------------------------------------
    @property
    def credentials(self) -> Credentials | None:
        if not self._creds_loaded:
            self._creds = self.options.credentials.get(self.host) or get_credentials(
                "docker.io" if self.host == "registry-1.docker.io" else self.host,
                self.options.docker_config,
            )
            self._creds_loaded = True
        return self._creds

    def base_url(self) -> str:
        """`scheme://host`, pinging /v2/ once to pick the scheme and learn the auth challenge.

        A registry marked insecure (or local) at an explicit port is asked over plain HTTP
        first, and that answer counts only when it is a registry's (200 or 401): a local
        plain-HTTP registry then costs no TLS handshake (nor loading libssl). Otherwise
        HTTPS comes first, as Docker does. The ping never carries credentials.
        """
        with self._lock:
            if self._pinged:
                return f"{self._scheme}://{self.host}"
            if self._scheme:
                scheme, resp = self._ping([self._scheme])
            elif not self.insecure:
                scheme, resp = self._ping(["https"])
            elif _split_host(self.host)[1]:
                scheme, resp = self._ping_plain_first()
            else:
                scheme, resp = self._ping(["https", "http"])
            self._scheme = scheme
            self._pinged = True
            self._challenge = _pick(parse_challenges(resp.headers.get("www-authenticate", "")))
            if resp.status_code not in (200, 401):
                raise registry_error(resp, f"registry {self.host} /v2/ check")
            return f"{scheme}://{self.host}"

    def _get_v2(self, scheme: str, attempts: int | None) -> Response:
        return self._send_retrying("GET", f"{scheme}://{self.host}/v2/", {}, None, attempts=attempts)

    def _ping(self, schemes: list[str]) -> tuple[str, Response]:
        """The first scheme that answers at all (only the last one retried)."""
        last: Exception | None = None
        for scheme in schemes:
            try:  # a plain-HTTP server fails the TLS handshake at once: no retries then
                return scheme, self._get_v2(scheme, 1 if scheme != schemes[-1] else None)
            except TransportError as exc:
                last = exc
        raise self._unreachable(last)

    def _ping_plain_first(self) -> tuple[str, Response]:
        """Plain HTTP if a registry answers there, else HTTPS (unverified: insecure); both are
        tried again, with backoff, while the failures may pass (no connection, 5xx)."""
        attempts = max(1, self.options.retries)
        for attempt in range(attempts):
            plain: Response | None = None
            plain_error: TransportError | None = None
            try:
                plain = self._get_v2("http", 1)
            except TransportError as exc:
                plain_error = exc
            if plain is not None and plain.status_code in (200, 401):
                return "http", plain
            try:  # e.g. 400 "Client sent an HTTP request to an HTTPS server"
                return "https", self._get_v2("https", 1)
            except TransportError as exc:
                secure_error = exc
            transient = plain is None or plain.status_code in RETRY_STATUS
            if transient and attempt < attempts - 1:
                self._sleep(attempt, None)
                continue
            if plain is not None and plain.status_code != 400:
                return "http", plain  # not a registry's answer: reported as such
            also = ""
            if plain_error is not None and _why(secure_error) != _why(plain_error):
                also = f" (over HTTPS: {_why(secure_error)})"
            raise self._unreachable(plain_error or secure_error, also)
        raise AssertionError("unreachable")

    def _unreachable(self, last: Exception | None, also: str = "") -> DockyardError:
        hint = "is the registry running? plain HTTP needs --insecure-registry"
        if last is not None and is_untrusted_certificate(last):
            dirs = " or ".join(str(d / self.host / "ca.crt") for d in self.options.certs_dirs)
            return Unavailable(
                f"registry {self.host} presented a certificate that is not trusted:"
                f" {_why(last)}",
                hint=f"put its CA certificate in {dirs}, or mark the registry insecure"
                f" with --insecure-registry {self.host}",
            )
        if not self.insecure:
            hint = f"for a plain-HTTP or self-signed registry pass --insecure-registry {self.host}"
        return Unavailable(f"cannot reach registry {self.host}: {_why(last)}{also}", hint=hint)

    # -- auth ------------------------------------------------------------------------------
    def _auth_header(self, scope: str, refresh: bool = False) -> dict[str, str]:
        challenge = self._challenge
        if challenge is None:
            return {}
        creds = self.credentials
        if challenge.scheme == "basic":
            if creds is None:
                return {}
            raw = f"{creds.username}:{creds.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        with self._lock:
            token = None if refresh else self._tokens.get(scope)
        if token is None:
            token = self._fetch_token(challenge, scope, creds)
            with self._lock:
                self._tokens[scope] = token
        return {"Authorization": f"Bearer {token}"}

    def _fetch_token(self, challenge: Challenge, scope: str, creds: Credentials | None) -> str:
        realm = challenge.params.get("realm")
        if not realm:
            raise AuthError(f"registry {self.host} sent a bearer challenge without a realm")
        params: list[tuple[str, str]] = [("service", challenge.params.get("service", ""))]
        params += [("scope", s) for s in scope.split()]
        headers = {}
        if creds is not None and not creds.is_identity_token:
            raw = f"{creds.username}:{creds.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        elif creds is not None:
            params.append(("refresh_token", creds.password))
        try:
            resp = self._send_retrying("GET", realm, headers, None, params=params)
        except TransportError as exc:
            raise Unavailable(f"cannot reach the token server {realm}: {_why(exc)}") from exc
        if resp.status_code != 200:
            who = "" if creds is not None else " (no credentials stored)"
            raise AuthError(
                f"the token server {realm} refused access to {scope or self.host}{who}:"
                f" HTTP {resp.status_code}",
                hint="log in with `dockyard login "
                + ("docker.io" if self.host == "registry-1.docker.io" else self.host)
                + "`",
            )
        try:
            body = resp.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not token:
            raise AuthError(f"the token server {realm} answered without a token")
        return str(token)

    # -- requests ----------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str = "",
        headers: dict[str, str] | None = None,
        body: Body = None,
        stream: bool = False,
        params: dict[str, str] | None = None,
    ) -> Response:
        """A request to `path` (under /v2/ or absolute), authenticated for `scope`, retried.

        401 answers refresh the token once. The caller closes streamed responses.
        """
        url = path if path.startswith("http") else self.base_url() + path
        auth = self._auth_header(scope)
        resp = self._send_retrying(method, url, {**(headers or {}), **auth}, body, stream, params)
        www = _pick(parse_challenges(resp.headers.get("www-authenticate", "")))
        if resp.status_code == 401 and www is not None:
            resp.close()
            self._challenge = www
            auth = self._auth_header(scope, refresh=True)
            resp = self._send_retrying(
                method, url, {**(headers or {}), **auth}, body, stream, params
            )
        return resp

    def _send_retrying(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Body,
        stream: bool = False,
        params: Any = None,
        attempts: int | None = None,
    ) -> Response:
        attempts = attempts or max(1, self.options.retries)
        headers = {"User-Agent": USER_AGENT, **headers}
        for attempt in range(attempts):
            content: Any = body() if callable(body) else body
            try:
                resp = self.http.request(method, url, headers, content, params, stream=stream)
            except TransportError as exc:
                if attempt == attempts - 1 or is_untrusted_certificate(exc):
                    raise
                self._sleep(attempt, None)
                continue
            if resp.status_code in RETRY_STATUS and attempt < attempts - 1:
                retry_after = resp.headers.get("retry-after")
                resp.close()
                self._sleep(attempt, retry_after)
                continue
            return resp
        raise AssertionError("unreachable")

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.options.backoff * (2**attempt)
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), 10.0))
        time.sleep(delay)


def _pick(challenges: list[Challenge]) -> Challenge | None:
    for scheme in ("bearer", "basic"):
        for c in challenges:
            if c.scheme == scheme:
                return c
    return None


def _why(exc: Exception | None) -> str:
    if exc is None:
        return "no answer"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
