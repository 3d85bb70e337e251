"""Issue #5 audit: the build behaviours no other test pinned down (ONBUILD triggers, ADD of a URL
with --checksum, COPY --from an image, Docker's COPY destination rules, config and history of
every metadata instruction, --network host, --label over LABEL)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from helpers.dybuild import Dockyard, _context

pytestmark = pytest.mark.integration

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving a directory (https would need a CA the build
    trusts; the download path is the same)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _history(dy: Dockyard, ref: str) -> list[tuple[str, bool]]:
    return [(h.get("created_by", ""), h.get("empty_layer", False))
            for h in dy.config(ref)["history"]]  # fmt: skip


def test_onbuild_triggers_of_the_base_run_first_and_are_not_inherited(dy: Dockyard,
                                                                       tmp_path: Path) -> None:
    base = _context(tmp_path / "base", "FROM busybox\nONBUILD COPY a.txt /from-trigger.txt\n"
                    "ONBUILD RUN echo triggered > /trig.txt\nONBUILD ENV T=1\n", {"a.txt": "a\n"})
    dy.build(base, "-t", "onb:1")
    assert dy.config("onb:1")["config"]["OnBuild"] == [
        "COPY a.txt /from-trigger.txt", "RUN echo triggered > /trig.txt", "ENV T=1"]
    assert "ONBUILD" not in " ".join(c for c, _ in _history(dy, "onb:1"))  # no history entry
    child = _context(tmp_path / "child", "FROM onb:1\nRUN cat /trig.txt /from-trigger.txt > /both\n",
                     {"a.txt": "child's a\n"})  # fmt: skip
    out = dy.build(child, "-t", "onb:2").stderr
    assert "[2/4] ONBUILD COPY a.txt /from-trigger.txt" in out
    assert "[3/4] ONBUILD RUN echo triggered > /trig.txt" in out
    assert dy.read_file("onb:2", "/both") == b"triggered\nchild's a\n"  # the child's context
    cfg = dy.config("onb:2")["config"]
    assert not cfg.get("OnBuild")  # triggers run once, never handed down
    assert "T=1" in cfg["Env"]
    assert _history(dy, "onb:2")[-4:] == [
        ("COPY a.txt /from-trigger.txt # buildkit", False),
        ("RUN /bin/sh -c echo triggered > /trig.txt # buildkit", False),
        ("ENV T=1", True),
        ("RUN /bin/sh -c cat /trig.txt /from-trigger.txt > /both # buildkit", False),
    ]


def test_add_url_with_checksum(dy: Dockyard, tmp_path: Path, web: tuple[str, Path]) -> None:
    url, root = web
    (root / "hello.txt").write_text("remote\n")
    good = "sha256:" + hashlib.sha256(b"remote\n").hexdigest()
    ctx = _context(tmp_path, f"FROM busybox\nWORKDIR /w\nADD --checksum={good} {url}/hello.txt /dl/\n"
                   f"ADD {url}/hello.txt named.txt\n")  # fmt: skip
    dy.build(ctx, "-t", "url:1")
    assert dy.read_file("url:1", "/dl/hello.txt") == b"remote\n"
    assert dy.read_file("url:1", "/w/named.txt") == b"remote\n"  # WORKDIR-relative file name
    assert dy.stat("url:1", "/w/named.txt").st_mode & 0o777 == 0o600  # as BuildKit's llb.HTTP
    assert _history(dy, "url:1")[-2][0] == f"ADD {url}/hello.txt /dl/ # buildkit"
    bad = "sha256:" + "0" * 64
    (ctx / "Dockerfile").write_text(f"FROM busybox\nADD --checksum={bad} {url}/hello.txt /x\n")
    proc = dy.build(ctx, "-t", "url:2", check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"digest mismatch {good}: {bad}" in proc.stderr
    (ctx / "Dockerfile").write_text(f"FROM busybox\nADD {url}/missing /x\n")
    proc = dy.build(ctx, "-t", "url:3", check=False)
    assert proc.returncode != 0 and "404" in proc.stderr
    (ctx / "Dockerfile").write_text(f"FROM busybox\nCOPY {url}/hello.txt /x\n")
    proc = dy.build(ctx, "-t", "url:4", check=False)
    assert "source can't be a URL for COPY" in proc.stderr
    assert dy("images", "-q", "url").stdout.strip() == dy("images", "-q", "url:1").stdout.strip()


def test_copy_destination_rules_and_from_image(dy: Dockyard, tmp_path: Path) -> None:
    dockerfile = """\
FROM busybox
COPY a.txt /tmp
COPY d* /out/
COPY nomatch* /none/
COPY link /via-link
COPY dir/ /dir-slash
WORKDIR /w
COPY a.txt ../up.txt
COPY --from=busybox:latest /bin/busybox /from-image
"""
    ctx = _context(tmp_path, dockerfile, {"a.txt": "a\n", "dir/one": "1\n", "dir/sub/two": "2\n",
                                          "dd/three": "3\n", ".dockerignore": "dd\n"})  # fmt: skip
    (ctx / "link").symlink_to("a.txt")
    dy.build(ctx, "-t", "cp:1")
    assert dy.read_file("cp:1", "/tmp/a.txt") == b"a\n"  # an existing dir takes the file in
    assert dy.read_file("cp:1", "/out/sub/two") == b"2\n"  # a wildcard dir: its contents
    with pytest.raises(FileNotFoundError):
        dy.read_file("cp:1", "/out/three")  # dd is .dockerignore'd
    with pytest.raises(FileNotFoundError):
        dy.stat("cp:1", "/none")  # an empty wildcard copies nothing and is no error
    assert dy.read_file("cp:1", "/via-link") == b"a\n"  # the named source is followed
    assert dy.read_file("cp:1", "/dir-slash/one") == b"1\n"
    assert dy.read_file("cp:1", "/up.txt") == b"a\n"
    assert dy.read_file("cp:1", "/from-image") == dy.read_file("busybox:latest", "/bin/busybox")
    for dockerfile in ("FROM busybox\nCOPY a.txt link /notdir\n", "FROM busybox\nCOPY *.txt l* /x\n"):
        (ctx / "Dockerfile").write_text(dockerfile)
        proc = dy.build(ctx, "-t", "cp:2", check=False)
        assert proc.returncode != 0
        assert ("When using COPY with more than one source file, the destination must be a"
                " directory and end with a /") in proc.stderr  # fmt: skip
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY dd/three /\n")
    proc = dy.build(ctx, "-t", "cp:3", check=False)
    assert 'failed to calculate checksum of ref' in proc.stderr
    assert '"/dd/three": not found' in proc.stderr


METADATA = """\
FROM busybox
ARG NOVAL
ARG WITH=1
ENV PATH=/custom:$PATH X="a\\"b"
RUN <<EOF
echo heredoc > /h.txt
EOF
COPY <<EOF /inline.txt
hi
EOF
VOLUME /data /logs
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5m --timeout=3s CMD true
SHELL ["/bin/sh", "-ec"]
CMD echo hi
MAINTAINER me@example.com
"""


def test_config_and_history_of_every_metadata_instruction(dy: Dockyard, tmp_path: Path) -> None:
    ctx = _context(tmp_path, METADATA)
    dy.build(ctx, "-t", "meta:1", "--label", "from=cli")
    config = dy.config("meta:1")
    cfg = config["config"]
    assert cfg["Env"] == [PATH.replace("PATH=", "PATH=/custom:"), 'X=a"b']
    assert cfg["Volumes"] == {"/data": {}, "/logs": {}} and cfg["StopSignal"] == "SIGINT"
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 300_000_000_000,
                                  "Timeout": 3_000_000_000}  # fmt: skip
    assert cfg["Shell"] == ["/bin/sh", "-ec"]
    assert cfg["Cmd"] == ["/bin/sh", "-ec", "echo hi"]  # shell form uses SHELL
    assert cfg["Labels"] == {"from": "cli"} and config["author"] == "me@example.com"
    assert _history(dy, "meta:1")[1:] == [
        ("ARG NOVAL", True),
        ("ARG WITH=1", True),
        (f'ENV {PATH.replace("PATH=", "PATH=/custom:")} X=a"b', True),
        ("RUN |2 NOVAL= WITH=1 /bin/sh -c echo heredoc > /h.txt\n # buildkit", False),
        ("COPY <<EOF /inline.txt # buildkit", False),
        ("VOLUME [/data /logs]", True),
        ("STOPSIGNAL SIGINT", True),
        ("HEALTHCHECK {Test:[CMD-SHELL true] Interval:5m0s Timeout:3s StartPeriod:0s"
         " StartInterval:0s Retries:0}", True),
        ("SHELL [/bin/sh -ec]", True),
        ('CMD ["/bin/sh" "-ec" "echo hi"]', True),
        ("MAINTAINER me@example.com", True),
    ]
    assert all(h.get("comment") == "buildkit.dockerfile.v0" for h in config["history"][1:])
    # scratch: PATH set, nothing else inherited; --label overrides LABEL
    scratch = _context(tmp_path / "s", "FROM scratch\nLABEL a=file b=keep\nCOPY f /\n", {"f": "f"})
    dy.build(scratch, "-t", "meta:2", "--label", "a=cli", "--label", "c")
    cfg = dy.config("meta:2")["config"]
    assert cfg["Env"] == [PATH] and cfg["Labels"] == {"a": "cli", "b": "keep", "c": ""}
    assert len(dy.config("meta:2")["rootfs"]["diff_ids"]) == 1


def test_network_host_sees_the_hosts_interfaces(dy: Dockyard, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN ip -o link > /links\n")
    dy.build(ctx, "--network", "host", "-t", "net:1")
    links = dy.read_file("net:1", "/links").decode()
    host = Path("/proc/net/dev").read_text().splitlines()[2:]
    assert len(links.splitlines()) == len(host)  # the host's devices, not a veth + lo


def test_source_owner_is_part_of_the_copy_cache_key(dy: Dockyard, tmp_path: Path) -> None:
    import os

    ctx = _context(tmp_path, "FROM busybox\nCOPY f /f\n", {"f": "same\n"})
    dy.build(ctx, "-t", "own:1")
    assert "CACHED" in dy.build(ctx, "-t", "own:1").stderr
    os.chown(ctx / "f", 1234, 1234)  # same content, mode and mtime; another owner
    assert "CACHED" not in dy.build(ctx, "--progress", "plain", "-t", "own:1").stderr
