"""A tiny busybox root filesystem (from Debian's busybox-static) and a rootfs tar of it for tests."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")

PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "www-data:x:33:33:www-data:/var/www:/bin/false\n"
    "app:x:1000:1000:app user:/home/app:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP = (
    "root:x:0:\n"
    "daemon:x:1:\n"
    "www-data:x:33:\n"
    "staff:x:50:app\n"
    "app:x:1000:\n"
    "audio:x:29:app,www-data\n"
    "nogroup:x:65534:\n"
)


def applets() -> list[str]:
    out = subprocess.run([str(BUSYBOX), "--list"], check=True, capture_output=True, text=True)
    return [a for a in out.stdout.split() if a and a != "busybox"]


def make_rootfs(target: Path) -> Path:
    """Write a busybox root filesystem into `target` (created) and return it."""
    if not BUSYBOX.exists():
        raise RuntimeError("busybox-static is not installed (apt-get install busybox-static)")
    target.mkdir(parents=True, exist_ok=True)
    for d in ("bin", "etc", "root", "tmp", "home/app", "var/www", "proc", "sys", "dev"):
        (target / d).mkdir(parents=True, exist_ok=True)
    os.chmod(target / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, target / "bin" / "busybox")
    for name in applets():
        link = target / "bin" / name
        if not link.exists():
            link.symlink_to("busybox")
    (target / "etc" / "passwd").write_text(PASSWD)
    (target / "etc" / "group").write_text(GROUP)
    os.chown(target / "home" / "app", 1000, 1000) if os.geteuid() == 0 else None
    return target


def rootfs_tar_bytes(rootfs: Path) -> bytes:
    """A plain (uncompressed) tar of a root filesystem, entries relative to its top."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(rootfs.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(rootfs)), recursive=False)
    return buf.getvalue()


def make_rootfs_tar(out: Path, workdir: Path) -> Path:
    """Build a busybox rootfs under `workdir` and write it as a tar to `out` (for `dockyard import`)."""
    rootfs = make_rootfs(workdir / "busybox-rootfs")
    out.write_bytes(rootfs_tar_bytes(rootfs))
    return out


class DirImages:
    """A test ImageSource (see dockyard.engine.containers): one busybox image on an overlay.

    Stands in for the store's snapshots where they are not wanted: the rootfs directory is the
    lower layer, each container gets its own upper/work dirs and a real overlay mount.
    """

    def __init__(self, rootfs: Path, workdir: Path, config: dict | None = None) -> None:
        self.rootfs = rootfs
        self.workdir = workdir
        self.config = config or {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
        self.images: dict[str, dict] = {"busybox": self.config, "busybox:latest": self.config}

    def add(self, name: str, config: dict) -> None:
        self.images[name] = config

    def resolve(self, ref: str):  # -> ImageInfo
        from dockyard.engine.containers import ImageInfo
        from dockyard.errors import NotFound

        if ref not in self.images:
            raise NotFound(f"Unable to find image '{ref}' locally")
        return ImageInfo(id="sha256:" + format(abs(hash(ref)), "064x")[:64], name=ref,
                         config=self.images[ref])

    def prepare(self, key: str, image_id: str) -> None:
        for sub in ("upper", "work"):
            (self.workdir / key / sub).mkdir(parents=True, exist_ok=True)

    def mount(self, key: str, target: Path) -> None:
        d = self.workdir / key
        opts = f"lowerdir={self.rootfs},upperdir={d / 'upper'},workdir={d / 'work'}"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", opts, str(target)], check=True)

    def unmount(self, key: str, target: Path) -> None:
        subprocess.run(["umount", str(target)], check=False, capture_output=True)

    def remove(self, key: str) -> None:
        shutil.rmtree(self.workdir / key, ignore_errors=True)
