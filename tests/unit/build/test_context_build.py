"""The build context: .dockerignore walks, COPY source resolution, content digests, tar contexts."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from dockyard.build import context as context_module
from dockyard.build.context import BuildContext
from dockyard.errors import InvalidArgument, NotFound


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _relpaths(ctx: BuildContext, subpath: str = "") -> list[str]:
    return [e.relpath for e in ctx.walk(subpath)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    _write(
        root,
        {
            "Dockerfile": "FROM scratch\n",
            ".dockerignore": "# deps\nnode_modules\nlogs\n!logs/keep.txt\n*.tmp\n",
            "node_modules/pkg/index.js": "x",
            "logs/debug.log": "x",
            "logs/keep.txt": "keep",
            "src/main.py": "print(1)\n",
            "src/junk.tmp": "x",
            "a.tmp": "x",
        },
    )
    return root


def test_walk_applies_dockerignore_with_exceptions(project: Path) -> None:
    ctx = BuildContext.from_dir(project)
    assert _relpaths(ctx) == [
        ".dockerignore",
        "Dockerfile",
        "logs",
        "logs/keep.txt",
        "src",
        "src/junk.tmp",  # as Docker: `*.tmp` only matches at the top level
        "src/main.py",
    ]
    assert ctx.is_excluded("a.tmp")
    assert ctx.is_excluded("node_modules/pkg/index.js")
    assert ctx.is_excluded("logs/debug.log")
    assert not ctx.is_excluded("logs/keep.txt")


def test_walk_never_reads_an_excluded_dir_without_possible_exception(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scanned: list[str] = []
    real_scandir = os.scandir

    def counting_scandir(path: str | os.PathLike[str]) -> object:
        scanned.append(os.path.relpath(path, project))
        return real_scandir(path)

    ctx = BuildContext.from_dir(project)
    monkeypatch.setattr(os, "scandir", counting_scandir)
    list(ctx.walk())
    assert "node_modules" not in scanned
    assert not any(p.startswith("node_modules") for p in scanned)
    assert "logs" in scanned  # an exception may match inside: it must be read


def test_exception_deep_inside_excluded_dir_is_found(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            ".dockerignore": "docs\n!docs/**/README.md\n",
            "docs/a/b/README.md": "r",
            "docs/a/b/other.md": "o",
            "docs/top.md": "t",
        },
    )
    ctx = BuildContext.from_dir(tmp_path)
    assert _relpaths(ctx) == [".dockerignore", "docs", "docs/a", "docs/a/b", "docs/a/b/README.md"]


def test_walk_order_is_per_directory_sorted(tmp_path: Path) -> None:
    _write(tmp_path, {"a/b": "1", "a.txt": "2", "b": "3"})
    assert _relpaths(BuildContext.from_dir(tmp_path)) == ["a", "a/b", "a.txt", "b"]


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            ".dockerignore": "a\n",
            "build/app.Dockerfile": "FROM scratch\n",
            "build/app.Dockerfile.dockerignore": "b\n",
            "a": "a",
            "b": "b",
        },
    )
    custom = BuildContext.from_dir(tmp_path, tmp_path / "build" / "app.Dockerfile")
    assert not custom.is_excluded("a") and custom.is_excluded("b")
    default = BuildContext.from_dir(tmp_path, tmp_path / "Dockerfile")
    assert default.is_excluded("a") and not default.is_excluded("b")


def test_missing_context_dir_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="unable to prepare context"):
        BuildContext.from_dir(tmp_path / "nope")


def test_bad_dockerignore_pattern_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, {".dockerignore": "[z-a]\n"})
    with pytest.raises(InvalidArgument, match=r"\[z-a\]"):
        BuildContext.from_dir(tmp_path)


@pytest.mark.parametrize("cache_fresh_files", [False, True])
def test_digest_sees_same_size_same_mtime_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_fresh_files: bool
) -> None:
    if cache_fresh_files:  # let the hash cache hold even a just-written file
        monkeypatch.setattr(context_module, "_RACY_NS", -1)
    _write(tmp_path, {"f": "aaaa"})
    ctx = BuildContext.from_dir(tmp_path)
    before = ctx.digest(ctx.walk())
    time.sleep(0.05)  # past the kernel's timestamp tick, so ctime moves
    st = os.stat(tmp_path / "f")
    (tmp_path / "f").write_text("bbbb")
    os.utime(tmp_path / "f", ns=(st.st_atime_ns, st.st_mtime_ns))
    after_st = os.stat(tmp_path / "f")
    assert (after_st.st_size, after_st.st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    assert ctx.digest(ctx.walk()) != before


def test_digest_ignores_mtime_but_not_mode_or_names(tmp_path: Path) -> None:
    _write(tmp_path, {"f": "data", "d/g": "more"})
    ctx = BuildContext.from_dir(tmp_path)
    first = ctx.digest(ctx.walk())
    os.utime(tmp_path / "f", (1_000_000, 1_000_000))
    os.utime(tmp_path / "d", (1_000_000, 1_000_000))
    assert ctx.digest(ctx.walk()) == first
    os.chmod(tmp_path / "f", 0o600)
    second = ctx.digest(ctx.walk())
    assert second != first
    os.rename(tmp_path / "d" / "g", tmp_path / "d" / "h")
    assert ctx.digest(ctx.walk()) != second


def test_digest_covers_symlink_targets(tmp_path: Path) -> None:
    os.symlink("one", tmp_path / "link")
    ctx = BuildContext.from_dir(tmp_path)
    first = ctx.digest(ctx.walk())
    os.unlink(tmp_path / "link")
    os.symlink("two", tmp_path / "link")
    assert ctx.digest(ctx.walk()) != first


def test_resolve_source_paths(project: Path) -> None:
    ctx = BuildContext.from_dir(project)
    [entry] = ctx.resolve_source("src/main.py")
    assert (entry.relpath, entry.kind, entry.size) == ("src/main.py", "file", 9)
    assert [e.relpath for e in ctx.resolve_source("./src/../src/")] == ["src"]
    assert [e.relpath for e in ctx.resolve_source("/src")] == ["src"]
    assert _relpaths(ctx, "src") == ["src", "src/junk.tmp", "src/main.py"]
    assert ctx.resolve_source(".")[0].kind == "dir"


def test_resolve_source_wildcards(project: Path) -> None:
    ctx = BuildContext.from_dir(project)
    assert [e.relpath for e in ctx.resolve_source("src/*.py")] == ["src/main.py"]
    assert [e.relpath for e in ctx.resolve_source("*.tmp")] == []  # a.tmp is ignored
    assert [e.relpath for e in ctx.resolve_source("l?gs/*.txt")] == ["logs/keep.txt"]
    assert [e.relpath for e in ctx.resolve_source("*file")] == ["Dockerfile"]
    assert ctx.resolve_source("nomatch*") == []


def test_resolve_source_refuses_parent_paths(project: Path) -> None:
    ctx = BuildContext.from_dir(project)
    for source in ("../x", "src/../../x", ".."):
        with pytest.raises(InvalidArgument, match="forbidden path outside the build context"):
            ctx.resolve_source(source)


def test_resolve_source_missing_and_excluded_are_not_found(project: Path) -> None:
    ctx = BuildContext.from_dir(project)
    with pytest.raises(NotFound) as info:
        ctx.resolve_source("nope")
    assert '"/nope": not found' in str(info.value)
    assert "\n" not in str(info.value)
    for excluded in ("node_modules", "a.tmp", "logs/debug.log"):
        with pytest.raises(NotFound):
            ctx.resolve_source(excluded)


def test_symlinks_resolve_inside_the_context(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    root = tmp_path / "ctx"
    _write(root, {"real/f": "f"})
    os.symlink(str(outside / "secret"), root / "abs-link")
    os.symlink("../outside/secret", root / "rel-link")
    os.symlink("real", root / "dir-link")
    ctx = BuildContext.from_dir(root)
    for link in ("abs-link", "rel-link"):
        with pytest.raises(NotFound):
            ctx.resolve_source(link)
    [entry] = ctx.resolve_source("dir-link")
    assert entry.kind == "dir" and entry.path == root / "real"
    assert _relpaths(ctx, "dir-link") == ["dir-link", "dir-link/f"]


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    buf.seek(0)
    return buf


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _symlink(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info, None


def test_tar_context_extracts_and_applies_dockerignore(tmp_path: Path) -> None:
    stream = _tar(
        [
            _file("Dockerfile", b"FROM scratch\n"),
            _file(".dockerignore", b"secret\n"),
            _file("./app/main.py", b"print(1)\n"),
            _file("secret", b"s"),
            _symlink("app/link", "main.py"),
        ]
    )
    ctx = BuildContext.from_tar(stream, tmp_path / "work")
    assert _relpaths(ctx) == [".dockerignore", "Dockerfile", "app", "app/link", "app/main.py"]
    assert (tmp_path / "work" / "app" / "main.py").read_text() == "print(1)\n"


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/etc/x"])
def test_tar_context_refuses_escaping_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidArgument, match="refusing to extract"):
        BuildContext.from_tar(_tar([_file(name, b"x")]), tmp_path / "work")
    assert not (tmp_path / "x").exists()


def test_tar_context_never_writes_through_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    escape = _tar([_symlink("evil", str(outside)), _file("evil/x", b"x")])
    with pytest.raises(InvalidArgument, match="symlink"):
        BuildContext.from_tar(escape, tmp_path / "work")
    assert list(outside.iterdir()) == []
    # a file member replaces a symlink of the same name instead of writing through it
    target = outside / "victim"
    target.write_text("safe")
    replace = _tar([_symlink("f", str(target)), _file("f", b"new")])
    BuildContext.from_tar(replace, tmp_path / "work2")
    assert target.read_text() == "safe"
    assert (tmp_path / "work2" / "f").read_text() == "new"


def test_tar_context_rejects_non_tar(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="not a tar archive"):
        BuildContext.from_tar(io.BytesIO(b"FROM scratch\n" * 50), tmp_path / "work")
