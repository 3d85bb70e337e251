"""`dockyard build` on the real runc, overlayfs and CNI, with a busybox base in a temporary store."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers.dybuild import DOCKYARD, Dockyard, _context

pytestmark = pytest.mark.integration


THREE_STAGES = """\
FROM busybox AS base
ARG VERSION=1.0
ENV APP_HOME=/srv/app
WORKDIR $APP_HOME
RUN echo "base $VERSION" > base.txt

FROM base AS builder
COPY src/ ./src/
RUN cat src/*.txt > combined.txt && echo built >> combined.txt

FROM busybox
LABEL org.example.name=demo
COPY --from=builder /srv/app/combined.txt /out/
COPY --from=0 /srv/app/base.txt /out/base.txt
COPY --chown=1000:1000 --chmod=640 conf/app.conf /etc/app.conf
USER app
WORKDIR /home/app
EXPOSE 8080
ENTRYPOINT ["cat"]
CMD ["/out/combined.txt"]
"""


def test_three_stage_build_files_config_and_history(dy: Dockyard, tmp_path: Path) -> None:
    ctx = _context(tmp_path, THREE_STAGES, {"src/a.txt": "alpha\n", "src/b.txt": "beta\n",
                                            "conf/app.conf": "key=value\n"})  # fmt: skip
    out = dy.build(ctx, "-t", "demo:1", "--label", "extra=yes")
    assert "[builder 2/2] RUN cat src/*.txt" in out.stderr
    assert dy.read_file("demo:1", "/out/combined.txt") == b"alpha\nbeta\nbuilt\n"
    assert dy.read_file("demo:1", "/out/base.txt") == b"base 1.0\n"
    st = dy.stat("demo:1", "/etc/app.conf")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1000, 1000, 0o640)
    config = dy.config("demo:1")
    cfg = config["config"]
    assert cfg["User"] == "app" and cfg["WorkingDir"] == "/home/app"
    assert cfg["Entrypoint"] == ["cat"] and cfg["Cmd"] == ["/out/combined.txt"]
    assert cfg["ExposedPorts"] == {"8080/tcp": {}}
    assert cfg["Labels"] == {"org.example.name": "demo", "extra": "yes"}
    assert "APP_HOME=/srv/app" not in cfg["Env"]  # only the final stage's own config
    created_by = [h.get("created_by", "") for h in config["history"]]
    assert created_by[-9:] == [
        "LABEL org.example.name=demo",
        "COPY /srv/app/combined.txt /out/ # buildkit",
        "COPY /srv/app/base.txt /out/base.txt # buildkit",
        "COPY --chown=1000:1000 --chmod=640 conf/app.conf /etc/app.conf # buildkit",
        "USER app",
        "WORKDIR /home/app",
        'EXPOSE map[8080/tcp:{}]',
        'ENTRYPOINT ["cat"]',
        'CMD ["/out/combined.txt"]',
    ]
    empty = [h.get("empty_layer", False) for h in config["history"][-9:]]
    assert empty == [True, False, False, False, True, True, True, True, True]
    # the final image holds only its own stage's layers: busybox + 3 COPY layers
    assert len(config["rootfs"]["diff_ids"]) == 4
    # --target builds only what the target needs
    out = dy.build(ctx, "--target", "base", "-t", "demo:base")
    assert "COPY src/" not in out.stderr
    assert dy.read_file("demo:base", "/srv/app/base.txt") == b"base 1.0\n"
    hist = [h.get("created_by", "") for h in dy.config("demo:base")["history"]]
    assert "RUN |1 VERSION=1.0 /bin/sh -c echo \"base $VERSION\" > base.txt # buildkit" in hist


def test_cache_hits_misses_and_content_hashing(dy: Dockyard, tmp_path: Path) -> None:
    dockerfile = "FROM busybox\nWORKDIR /app\nCOPY data.txt .\nRUN wc -c data.txt > size.txt\nCOPY app.txt .\n"
    ctx = _context(tmp_path, dockerfile, {"data.txt": "aaaa\n", "app.txt": "v1\n"})
    first = dy.build(ctx, "-q", "-t", "c:1").stdout.strip()
    second = dy.build(ctx, "-t", "c:1")
    assert second.stderr.count("CACHED") == 4
    assert dy("images", "-q", "--no-trunc", "c:1").stdout.strip() == first  # same image ID
    # same size, same mtime, different content: must miss
    data = ctx / "data.txt"
    st = os.stat(data)
    data.write_text("bbbb\n")
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    third = dy.build(ctx, "-t", "c:1")
    assert "[3/5] COPY data.txt .\n#4 DONE" in third.stderr.replace("#4 CACHED", "")
    assert "[4/5] RUN wc -c data.txt" in third.stderr
    assert third.stderr.count("CACHED") == 1  # only WORKDIR
    assert dy.read_file("c:1", "/app/data.txt") == b"bbbb\n"
    # only the last file changed: only the last step runs
    (ctx / "app.txt").write_text("v2\n")
    fourth = dy.build(ctx, "-t", "c:1")
    assert fourth.stderr.count("CACHED") == 3
    # --no-cache runs everything; the cache survives in the store across processes
    fifth = dy.build(ctx, "--no-cache", "-t", "c:2")
    assert "CACHED" not in fifth.stderr
    # build args the step uses are part of its key
    ctx2 = _context(tmp_path / "b", "FROM busybox\nARG X=1\nRUN echo $X > /x\n")
    dy.build(ctx2, "-t", "a:1")
    assert "CACHED" in dy.build(ctx2, "-t", "a:1").stderr
    changed = dy.build(ctx2, "--build-arg", "X=2", "-t", "a:2")
    assert "CACHED" not in changed.stderr
    assert dy.read_file("a:2", "/x") == b"2\n"
    # builder prune drops the cache
    dy("builder", "prune", "-f")
    assert "CACHED" not in dy.build(ctx2, "-t", "a:1").stderr


def test_copy_path_rules(dy: Dockyard, tmp_path: Path) -> None:
    import tarfile

    dockerfile = """\
FROM busybox
WORKDIR /w
COPY dir /a
COPY dir /b/
COPY dir/one.txt /c
COPY dir/one.txt /d/
COPY *.md dir/one.txt /many/
COPY ["dir/one.txt", "rel/deep/"]
ADD pack.tar.gz /unpacked/
COPY pack.tar.gz /kept/
COPY <<EOF /inline.txt
hello $HOSTNAME_X
EOF
"""
    ctx = _context(tmp_path, dockerfile, {"dir/one.txt": "1\n", "dir/sub/two.txt": "2\n",
                                          "x.md": "x\n", "y.md": "y\n"})  # fmt: skip
    member = tmp_path / "member.txt"
    member.write_text("from tar\n")
    with tarfile.open(ctx / "pack.tar.gz", "w:gz") as tar:
        tar.add(member, arcname="inner/member.txt")
    dy.build(ctx, "-t", "p:1")
    assert dy.read_file("p:1", "/a/one.txt") == b"1\n"
    assert dy.read_file("p:1", "/a/sub/two.txt") == b"2\n"
    assert dy.read_file("p:1", "/b/sub/two.txt") == b"2\n"
    assert dy.read_file("p:1", "/c") == b"1\n"
    assert dy.read_file("p:1", "/d/one.txt") == b"1\n"
    assert dy.read_file("p:1", "/many/x.md") == b"x\n"
    assert dy.read_file("p:1", "/many/one.txt") == b"1\n"
    assert dy.read_file("p:1", "/w/rel/deep/one.txt") == b"1\n"
    assert dy.read_file("p:1", "/unpacked/inner/member.txt") == b"from tar\n"
    assert dy.stat("p:1", "/kept/pack.tar.gz").st_size > 0
    assert dy.read_file("p:1", "/inline.txt") == b"hello \n"
    st = dy.stat("p:1", "/a/one.txt")
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_run_network_user_and_heredoc(dy: Dockyard, tmp_path: Path) -> None:
    dockerfile = """\
FROM busybox
RUN ip addr show eth0 > /net-default.txt
RUN --network=none ip link > /net-none.txt
USER app
RUN id -u > /tmp/uid.txt
RUN <<EOF
echo heredoc > /tmp/h.txt
EOF
"""
    ctx = _context(tmp_path, dockerfile)
    dy.build(ctx, "-t", "r:1")
    assert b"inet " in dy.read_file("r:1", "/net-default.txt")
    assert b"eth0" not in dy.read_file("r:1", "/net-none.txt")
    assert dy.read_file("r:1", "/tmp/uid.txt") == b"1000\n"
    assert dy.read_file("r:1", "/tmp/h.txt") == b"heredoc\n"


@pytest.mark.parametrize(
    ("dockerfile", "args", "files", "expected"),
    [
        ("FROM busybox\nRUNN echo hi\n", [], {}, "Dockerfile:2"),
        ("FROM busybox\nCOPY --from=nowhere /x /x\n", [], {}, "nowhere"),
        ("FROM busybox AS a\nRUN true\n", ["--target", "nosuch"], {}, "target stage 'nosuch' could not be found"),
        ("FROM busybox\nCOPY missing.txt /\n", [], {}, '"/missing.txt": not found'),
        ("FROM busybox\nCOPY ../outside /\n", [], {}, "outside the build context"),
        ("FROM no-such-image:1\n", [], {}, "failed to resolve source metadata for docker.io/library/no-such-image:1"),
        ("FROM busybox\nCOPY excluded.txt /\n", [], {"excluded.txt": "x", ".dockerignore": "excluded.txt\n"}, "not found"),
        ("FROM busybox\n", ["--platform", "linux/s390x"], {}, "not supported"),
    ],
)
def test_bad_input(dy: Dockyard, tmp_path: Path, dockerfile: str, args: list[str],
                   files: dict[str, str], expected: str) -> None:  # fmt: skip
    ctx = _context(tmp_path, dockerfile, files)
    proc = dy.build(ctx, "-t", "bad:1", *args, check=False)
    assert proc.returncode != 0
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert dy("images", "-q", "bad:1").stdout.strip() == ""


def test_failing_run_shows_output_and_exit_code(dy: Dockyard, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nRUN echo about to fail && exit 3\nCMD [\"x\"]\n")
    proc = dy.build(ctx, "-t", "fail:1", check=False)
    assert proc.returncode == 1
    assert "about to fail" in proc.stderr
    assert "exit code: 3" in proc.stderr
    assert ">>> RUN echo about to fail && exit 3" in proc.stderr
    assert dy("images", "-q", "fail:1").stdout.strip() == ""


def test_run_without_network_fails_with_its_output_and_tags_nothing(dy: Dockyard,
                                                                    tmp_path: Path) -> None:
    """examples/flask's `RUN pip install` under `--network none`, with busybox: the download's
    own error, the failing step and its exit code are shown; nothing is tagged. (nc, not wget:
    Debian's busybox-static wget segfaults on any URL, even on the host.)"""
    dockerfile = """\
FROM busybox
WORKDIR /app
COPY requirements.txt .
RUN printf "GET /simple/flask/ HTTP/1.0\\r\\n\\r\\n" | nc 203.0.113.7 80 > /app/index.html
COPY app.py .
"""
    ctx = _context(tmp_path, dockerfile, {"requirements.txt": "flask\n", "app.py": "print(1)\n"})
    proc = dy.build(ctx, "--network", "none", "-t", "offline:1", check=False)
    assert proc.returncode == 1
    assert "Network is unreachable" in proc.stderr  # nc's own message, streamed
    assert "[4/5] RUN printf" in proc.stderr
    assert '| nc 203.0.113.7 80 > /app/index.html' in proc.stderr.split(">>> RUN printf")[1]
    assert "did not complete successfully: exit code: 1" in proc.stderr
    assert "[5/5] COPY app.py" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert dy("images", "-q", "offline:1").stdout.strip() == ""


def test_stdin_dockerfile_and_tar_context(dy: Dockyard, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "FROM busybox\nCOPY f.txt /f.txt\n", {"f.txt": "tar ctx\n"})
    iid = tmp_path / "iid"
    tar = subprocess.run(["tar", "-C", str(ctx), "-c", "."], capture_output=True, check=True).stdout
    proc = subprocess.run([*DOCKYARD, "--root", str(dy.root), "build", "-q", "--iidfile",
                           str(iid), "-t", "t:1", "-"], input=tar, capture_output=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert iid.read_text() == proc.stdout.decode().strip()
    assert dy.read_file("t:1", "/f.txt") == b"tar ctx\n"
    proc2 = dy("build", "-q", "-f", "-", "-t", "t:2", str(ctx),
               stdin="FROM busybox\nCOPY f.txt /g.txt\n")  # fmt: skip
    assert proc2.stdout.strip().startswith("sha256:")
    assert dy.read_file("t:2", "/g.txt") == b"tar ctx\n"


FLASK = Path(__file__).resolve().parents[2] / "examples" / "flask"


def test_flask_example_builds_from_the_default_store(tmp_path: Path) -> None:
    """The README's first command, against python:3.11-slim in the default store (if present)."""
    default = Path(os.environ.get("DOCKYARD_ROOT", "/var/lib/dockyard"))
    if not (default / "dockyard-store").exists():
        pytest.skip("no default store with python:3.11-slim (run scripts/base-images.sh)")
    d = Dockyard(default)
    if not d("images", "-q", "python:3.11-slim").stdout.strip():
        pytest.skip("python:3.11-slim is not in the default store")
    out = d.build(FLASK, "-t", "dockyard-test-flask:1")
    assert "[5/5] COPY app.py ." in out.stderr
    cfg = d.config("dockyard-test-flask:1")["config"]
    assert cfg["Cmd"] == ["python", "app.py"] and cfg["WorkingDir"] == "/app"
    assert cfg["ExposedPorts"] == {"5000/tcp": {}}
    again = d.build(FLASK, "-t", "dockyard-test-flask:1")
    assert again.stderr.count("CACHED") == 4
    d("rmi", "dockyard-test-flask:1")


def _replay_records(root: Path) -> int:
    from dockyard.build import replay  # noqa: F401  (declares the table)
    from dockyard.store import Store

    with Store(root) as store:
        store.db.ensure()
        return int(store.db.query("SELECT count(*) AS n FROM build_replay")[0]["n"])


def _settle() -> None:
    import time

    time.sleep(replay_racy_s() + 0.05)  # files older than the racy window: the build is recorded


def replay_racy_s() -> float:
    from dockyard.build import replay

    return replay.RACY_NS / 1e9


def test_no_change_rebuild_is_replayed_and_never_stale(dy: Dockyard, tmp_path: Path) -> None:
    dockerfile = "FROM busybox\nCOPY data.txt /data.txt\nCMD [\"cat\", \"/data.txt\"]\n"
    ctx = _context(tmp_path, dockerfile, {"data.txt": "aaaa\n", ".dockerignore": "logs\n"})
    (ctx / "logs").mkdir()
    first = dy.build(ctx, "-q", "-t", "r:1").stdout.strip()
    assert _replay_records(dy.root) == 0  # files changed a moment ago: not recorded
    _settle()
    assert dy.build(ctx, "-q", "-t", "r:1").stdout.strip() == first
    assert _replay_records(dy.root) == 1
    (ctx / "logs" / "x.log").write_text("ignored\n")
    again = dy.build(ctx, "-t", "r:1", "-t", "r:2")  # a replay: every step CACHED, new tag
    assert "[2/2] COPY data.txt /data.txt\n#3 CACHED" in again.stderr
    assert f"writing image {first} done" in again.stderr
    assert dy("images", "-q", "--no-trunc", "r:2").stdout.strip() == first
    # same size, same mtime, new content: ctime moved, so the real build runs and sees it
    data = ctx / "data.txt"
    st = os.stat(data)
    data.write_text("bbbb\n")
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))
    changed = dy.build(ctx, "-q", "-t", "r:1").stdout.strip()
    assert changed != first
    assert dy.read_file("r:1", "/data.txt") == b"bbbb\n"


def test_replay_checks_base_image_result_and_cache(dy: Dockyard, tmp_path: Path,
                                                  busybox_tar: Path) -> None:  # fmt: skip
    ctx = _context(tmp_path, "FROM base:1\nCOPY f.txt /f.txt\n", {"f.txt": "f\n"})
    dy("tag", "busybox:latest", "base:1")
    _settle()
    first = dy.build(ctx, "-q", "-t", "b:1").stdout.strip()
    assert _replay_records(dy.root) == 1
    # the result removed: a replay names it again (its content is still there)
    dy("rmi", "b:1")
    assert dy.build(ctx, "-q", "-t", "b:1").stdout.strip() == first
    assert dy.read_file("b:1", "/f.txt") == b"f\n"
    # base:1 now names another image: not replayed, built on the new base
    dy("import", "--change", "LABEL other=1", str(busybox_tar), "base:1")
    rebuilt = dy.build(ctx, "-t", "b:1")
    assert "[2/2] COPY f.txt /f.txt\n#3 DONE" in rebuilt.stderr
    assert dy.config("b:1")["config"]["Labels"] == {"other": "1"}
    # builder prune drops the records with the cache: everything runs again
    dy("builder", "prune", "-f")
    assert _replay_records(dy.root) == 0
    assert "CACHED" not in dy.build(ctx, "-t", "b:1").stderr


def _cache_records(root: Path) -> int:
    from dockyard.build import cache  # noqa: F401  (declares the table)
    from dockyard.store import Store

    with Store(root) as store:
        store.db.ensure()
        return int(store.db.query("SELECT count(*) AS n FROM build_cache")[0]["n"])


def test_image_prune_drops_dangling_cache_and_prune_all_drops_all(dy: Dockyard,
                                                                   tmp_path: Path) -> None:  # fmt: skip
    keep = _context(tmp_path / "k", "FROM busybox\nRUN echo keep > /k\n")
    gone = _context(tmp_path / "g", "FROM busybox\nRUN echo gone > /g\nCMD [\"x\"]\n")
    dy.build(keep, "-t", "keep:1")
    dy.build(gone, "-t", "gone:1")
    before = _cache_records(dy.root)
    dy("rmi", "gone:1")  # GC after rmi keeps the cache's blobs: rebuilding hits the cache
    assert dy.build(gone, "-t", "gone:1").stderr.count("CACHED") == 1
    dy("rmi", "gone:1")
    dy("image", "prune", "-f")  # gone:1's steps are dangling now; keep:1's stay
    assert _cache_records(dy.root) == before - 2
    assert "CACHED" in dy.build(keep, "-t", "keep:1").stderr
    assert "CACHED" not in dy.build(gone, "-t", "gone:1").stderr
    dy("rmi", "gone:1")
    dy("image", "prune", "-a", "-f")  # as `docker image prune -a` + `builder prune -a`
    assert _cache_records(dy.root) == 0
