"""Which scheme a registry is reached by (a local plain-HTTP registry without any TLS attempt,
a local TLS one after plain HTTP is refused, Docker's HTTPS-first order elsewhere), the errors
when neither works, and a registry client that starts without loading TLS or email parsing."""

from __future__ import annotations

import ast
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.rawhttp import Peer, answer, raw_server
from helpers.registry import self_signed_ca_and_cert

from dockyard.errors import NotFound, Unavailable
from dockyard.transports.registry.client import RegistryClient, RegistryOptions

QUICK = RegistryOptions(retries=2, backoff=0.01)


def registry(peer: Peer) -> None:
    while (req := peer.request()) is not None:
        assert "authorization" not in req[2]  # the ping never carries credentials
        peer.send(answer("200 OK", b"{}", Docker_Distribution_Api_Version="registry/2.0"))


def not_a_registry(peer: Peer) -> None:
    while peer.request() is not None:
        peer.send(answer("404 Not Found", b"nothing here"))


def test_local_plain_http_registry_is_reached_without_a_tls_handshake() -> None:
    with raw_server(registry) as (host, firsts):
        with RegistryClient(host, QUICK) as client:
            assert client.base_url() == f"http://{host}"
            assert client.request("GET", "/v2/").status_code == 200
    assert firsts == [b"G"]  # one connection, plain HTTP from its first byte


def test_local_tls_registry_is_found_after_plain_http_is_refused(tmp_path: Path) -> None:
    pki = self_signed_ca_and_cert(tmp_path, "127.0.0.1")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["srv.crt"], pki["srv.key"])
    with raw_server(registry, tls=ctx, sniff=True) as (host, firsts):
        with RegistryClient(host, QUICK) as client:  # local: insecure, the CA is not needed
            assert client.base_url() == f"https://{host}"
            assert client.request("GET", "/v2/").status_code == 200
    assert firsts == [b"G", b"\x16"]


def test_a_local_server_that_is_no_registry_is_reported_as_such() -> None:
    with raw_server(not_a_registry) as (host, firsts):
        with pytest.raises(NotFound, match=f"registry {host} /v2/ check: HTTP 404"):
            RegistryClient(host, QUICK).base_url()
    assert firsts[:2] == [b"G", b"\x16"]  # TLS was tried too


def test_nothing_listening_is_one_clear_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(Unavailable, match=f"cannot reach registry {host}: .*refused") as info:
        RegistryClient(host, QUICK).base_url()
    assert "over HTTPS" not in str(info.value)  # the same refusal is not said twice


def test_registry_client_starts_without_tls_email_or_dataclasses() -> None:
    # a whole ping of a local plain-HTTP registry, in a fresh interpreter
    with raw_server(registry) as (host, _):
        code = (
            "import sys; from dockyard.transports.registry.client import RegistryClient; "
            f"print(RegistryClient({host!r}).base_url()); print(sorted(sys.modules))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
    url, modules = out.stdout.splitlines()
    assert url == f"http://{host}"
    loaded = set(ast.literal_eval(modules))
    assert not loaded & {"ssl", "_ssl", "http.client", "email", "dataclasses", "encodings.idna"}
