"""Image commands through the CLI (click's CliRunner, a temporary --root): outputs and bad input."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
import zstandard
from click.testing import CliRunner, Result

from dockyard.cli.main import cli
from dockyard.store import Store


def make_tar(entries: dict[str, bytes | None], extra: list[tarfile.TarInfo] = ()) -> bytes:
    """A tar of files (bytes) and directories (None), owned by 0:0, made in memory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return buf.getvalue()


ROOTFS = {"etc": None, "etc/hostname": b"box\n", "bin": None, "bin/tool": b"x" * 5000}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


def run(root: Path, *args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, ["--root", str(root), *args], input=input)


def imported(root: Path, tmp_path: Path, ref: str | None = "app:1", data: bytes | None = None,
             *opts: str) -> str:
    src = tmp_path / "rootfs.tar"
    src.write_bytes(data if data is not None else make_tar(ROOTFS))
    result = run(root, "import", *opts, str(src), *([ref] if ref else []))
    assert result.exit_code == 0, result.output
    image_id = result.output.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    return image_id


def blobs(root: Path) -> set[str]:
    return {p.name for p in (root / "blobs" / "sha256").iterdir()}


@pytest.mark.parametrize("compress", ["plain", "gzip", "zstd"])
def test_import_compressions_give_same_layer(root: Path, tmp_path: Path, compress: str) -> None:
    raw = make_tar(ROOTFS)
    data = {"plain": raw, "gzip": gzip.compress(raw),
            "zstd": zstandard.ZstdCompressor().compress(raw)}[compress]
    image_id = imported(root, tmp_path, "app:1", data)
    doc = json.loads(run(root, "image", "inspect", image_id).output)[0]
    import hashlib
    assert doc["RootFS"]["Layers"] == ["sha256:" + hashlib.sha256(raw).hexdigest()]
    assert doc["Size"] == len(raw)
    assert doc["RepoTags"] == ["app:1"]
    assert doc["Comment"] == "Imported from -"
    assert doc["Os"] == "linux"


def test_import_from_stdin_with_changes(root: Path) -> None:
    result = run(root, "import", "-c", 'CMD ["/bin/tool", "-v"]', "-c", "ENV A=1 B=two",
                 "-c", "EXPOSE 8080", "-c", "WORKDIR /srv", "-c", "LABEL k=v",
                 "-c", "ENTRYPOINT /bin/sh", "-m", "hello", "-", "tool:latest",
                 input=make_tar(ROOTFS))
    assert result.exit_code == 0, result.output
    doc = json.loads(run(root, "inspect", "tool").output)[0]
    cfg = doc["Config"]
    assert cfg["Cmd"] == ["/bin/tool", "-v"]
    assert cfg["Env"] == ["A=1", "B=two"]
    assert cfg["ExposedPorts"] == {"8080/tcp": {}}
    assert cfg["WorkingDir"] == "/srv"
    assert cfg["Labels"] == {"k": "v"}
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "/bin/sh"]
    assert doc["Comment"] == "hello"


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "a/../../b"])
def test_import_refuses_escaping_paths(root: Path, tmp_path: Path, bad: str) -> None:
    src = tmp_path / "evil.tar"
    src.write_bytes(make_tar({"ok": b"fine", bad: b"root::0:0::/:/bin/sh\n"}))
    result = run(root, "import", str(src), "evil")
    assert result.exit_code == 125
    assert "leaves the root filesystem" in result.output
    assert "Traceback" not in result.output
    assert blobs(root) == set()
    assert list((root / "ingest").iterdir()) == []
    assert run(root, "images", "-q").output == ""


def test_import_refuses_hardlink_outside(root: Path, tmp_path: Path) -> None:
    link = tarfile.TarInfo("shadow")
    link.type, link.linkname = tarfile.LNKTYPE, "../../etc/shadow"
    src = tmp_path / "evil.tar"
    src.write_bytes(make_tar({"ok": b"x"}, [link]))
    result = run(root, "import", str(src))
    assert result.exit_code == 125 and "hard link target" in result.output
    assert blobs(root) == set()


def test_import_garbage_and_truncated(root: Path, tmp_path: Path) -> None:
    src = tmp_path / "junk.tar"
    src.write_bytes(b"this is not a tarball at all" * 40)
    result = run(root, "import", str(src))
    assert result.exit_code == 125 and "not a valid tar archive" in result.output
    whole = gzip.compress(make_tar(ROOTFS))
    src.write_bytes(whole[: len(whole) // 2])
    result = run(root, "import", str(src))
    assert result.exit_code == 125 and "Error:" in result.output
    assert blobs(root) == set()
    result = run(root, "import", str(tmp_path / "missing.tar"))
    assert result.exit_code == 125 and "no such file" in result.output


def test_import_refuses_a_header_corrupt_mid_archive(root: Path, tmp_path: Path) -> None:
    data = bytearray(make_tar({"a": b"x" * 100, "b": b"y" * 100}))
    assert data[1024:1026] == b"b\0"  # header, data block, then b's header
    data[1024 + 148 : 1024 + 156] = b"0000000\0"  # a bad checksum in that later header
    src = tmp_path / "corrupt.tar"
    src.write_bytes(bytes(data))
    result = run(root, "import", str(src))
    assert result.exit_code == 125 and "not a valid tar archive" in result.output
    assert blobs(root) == set()


def test_images_table_and_formats(root: Path, tmp_path: Path) -> None:
    image_id = imported(root, tmp_path, "app:1")
    assert run(root, "tag", "app:1", "localhost:5000/team/app:v2").exit_code == 0
    out = run(root, "images").output.splitlines()
    assert out[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    tag_col = out[0].index("TAG")
    assert all(line[tag_col - 3 : tag_col] == "   " for line in out)  # aligned columns
    rows = sorted(line.split()[:3] for line in out[1:])
    assert rows == [["app", "1", image_id[7:19]],
                    ["localhost:5000/team/app", "v2", image_id[7:19]]]
    assert all(line.endswith("kB") for line in out[1:])
    assert "Less than a second ago" in out[1] or "seconds ago" in out[1]
    assert run(root, "images", "-q").output.split() == [image_id[7:19]] * 2
    assert run(root, "images", "--no-trunc", "-q").output.split() == [image_id] * 2
    lines = run(root, "images", "--format", "json").output.splitlines()
    docs = [json.loads(line) for line in lines]
    assert {d["Repository"] for d in docs} == {"app", "localhost:5000/team/app"}
    assert docs[0]["ID"] == image_id[7:19]
    out = run(root, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}").output.split()
    assert sorted(out) == ["app:1", "localhost:5000/team/app:v2"]
    out = run(root, "images", "--filter", "reference=localhost:5000/*/*").output.splitlines()
    assert len(out) == 2 and out[1].startswith("localhost:5000/team/app")
    assert run(root, "images", "--filter", "reference=localhost:5000/*", "-q").output == ""
    assert run(root, "images", "app", "-q").output.split() == [image_id[7:19]]
    out = run(root, "images", "--digests").output.splitlines()
    assert "DIGEST" in out[0] and "<none>" in out[1]
    bad = run(root, "images", "--filter", "color=red")
    assert bad.exit_code == 125 and "invalid filter" in bad.output


def test_rmi_untags_then_deletes(root: Path, tmp_path: Path) -> None:
    image_id = imported(root, tmp_path, "app:1")
    run(root, "tag", "app:1", "app:2")
    before = blobs(root)
    assert len(before) == 3  # layer, config, manifest
    result = run(root, "rmi", "app:1")
    assert result.output == "Untagged: app:1\n"
    result = run(root, "tag", "app:2", "app:3")
    conflict = run(root, "rmi", image_id[7:19])
    assert conflict.exit_code == 125 and "must be forced" in conflict.output
    result = run(root, "rmi", "-f", image_id[7:19])
    assert result.exit_code == 0
    assert result.output.splitlines() == ["Untagged: app:2", "Untagged: app:3",
                                          f"Deleted: {image_id}"]
    assert blobs(root) == set()
    missing = run(root, "rmi", "app:2")
    assert missing.exit_code == 125 and "Error: No such image: app:2" in missing.output


def test_rmi_goes_on_after_a_failure(root: Path, tmp_path: Path) -> None:
    imported(root, tmp_path, "app:1")
    result = run(root, "image", "rm", "nope", "app:1")
    assert result.exit_code == 125
    assert "Untagged: app:1" in result.output and "No such image: nope:latest" in result.output


def test_history(root: Path, tmp_path: Path) -> None:
    image_id = imported(root, tmp_path, "app:1", None, "-m", "first import")
    out = run(root, "history", "app:1").output.splitlines()
    assert out[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert out[1].startswith(image_id[7:19])
    assert out[1].endswith("kB   first import") or "first import" in out[1]
    assert run(root, "history", "--no-trunc", "-q", "app:1").output.strip() == image_id
    assert run(root, "image", "history", "-q", "app:1").output.strip() == image_id[7:19]


def test_inspect_errors(root: Path, tmp_path: Path) -> None:
    imported(root, tmp_path, "app:1")
    result = run(root, "image", "inspect", "app:1", "nope")
    assert result.exit_code == 125
    assert json.loads(result.stdout)[0]["RepoTags"] == ["app:1"]
    assert "No such image: nope" in result.output
    result = run(root, "inspect", "-f", "{{.Os}}/{{.Architecture}} {{json .RepoTags}}", "app:1")
    assert result.output.startswith("linux/") and result.output.endswith(' ["app:1"]\n')
    result = run(root, "tag", "app:1", "Bad:Name")
    assert result.exit_code == 125 and "must be lowercase" in result.output


def test_prune_removes_dangling_and_frees_blobs(root: Path, tmp_path: Path) -> None:
    kept = imported(root, tmp_path, "keep:1")
    dangling = imported(root, tmp_path, None, make_tar({"other": b"data" * 100}))
    assert run(root, "images", "--filter", "dangling=true", "-q").output.split() == [
        dangling[7:19]
    ]
    result = run(root, "image", "prune", "-f")
    assert result.exit_code == 0
    assert f"deleted: {dangling}" in result.output
    assert "Total reclaimed space: " in result.output
    assert len(blobs(root)) == 3
    assert run(root, "images", "-q").output.split() == [kept[7:19]]
    result = run(root, "image", "prune", "-f", "-a")
    assert "untagged: keep:1" in result.output and blobs(root) == set()


def test_prune_asks_first(root: Path, tmp_path: Path) -> None:
    imported(root, tmp_path, None)
    result = run(root, "image", "prune", input=b"n\n")
    assert "WARNING! This will remove all dangling images." in result.output
    assert len(blobs(root)) == 3


def test_root_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    result = run(f, "images")
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_root_foreign_directory(tmp_path: Path) -> None:
    d = tmp_path / "docs"
    d.mkdir()
    (d / "readme").write_text("x")
    result = run(d, "images")
    assert result.exit_code == 125
    assert "is a non-empty directory that is not a dockyard store" in result.output


def test_store_is_shared_across_commands(root: Path, tmp_path: Path) -> None:
    imported(root, tmp_path, "app:1")
    s = Store(root)
    assert s.image("app:1").config.os == "linux"
    assert s.image("app:1").chain_ids() == s.image("app:1").diff_ids
    s.close()
