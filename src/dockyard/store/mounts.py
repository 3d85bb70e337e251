"""Mount helpers for snapshots: overlayfs and bind mounts through mount(2), and a probe for overlay."""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

from dockyard.errors import Unavailable

MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 0x2
# mount(2) copies at most one page of options; leave room for the rest of the string.
_MAX_OPTIONS = 4000
_OPTIONAL = ("index", "redirect_dir", "metacopy")

_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL("libc.so.6", use_errno=True)  # find_library would run ldconfig
    return _libc


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    rc = _c().mount(
        source.encode(),
        os.fsencode(target),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data is not None else None,
    )
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {fstype or 'bind'} on {target}: {os.strerror(err)}")


def _off_options() -> str:
    """Turn off overlay features that change the on-disk upper format, where this kernel has them."""
    found = []
    for name in _OPTIONAL:
        if Path(f"/sys/module/overlay/parameters/{name}").exists():
            found.append(f"{name}=off")
    return ",".join(found)


def overlay_options(
    lowers: list[str], upper: str | None, work: str | None, volatile: bool = False
) -> str:
    options = "lowerdir=" + ":".join(lowers)
    if upper is not None and work is not None:
        options += f",upperdir={upper},workdir={work}"
        if volatile:
            options += ",volatile"
    extra = _off_options()
    return options + ("," + extra if extra else "")


# -- build (issue 5): `volatile` overlay mounts -------------------------------------------
def volatile_supported() -> bool:
    """overlayfs has the `volatile` option (Linux 5.10+): no syncfs of the upper on unmount."""
    release = os.uname().release.split(".")
    try:
        return (int(release[0]), int(release[1].split("-")[0])) >= (5, 10)
    except (IndexError, ValueError):
        return False


def mount_overlay(
    lowers: list[Path], upper: Path | None, work: Path | None, target: Path, base: Path,
    volatile: bool = False,
) -> None:  # fmt: skip
    """Mount overlayfs on `target`; `lowers` top-most first, all paths under `base`.

    Short absolute paths go straight to mount(2); when they would not fit in one page
    (many layers) the mount runs in a child whose working directory is `base`, with
    paths relative to it, as containerd and Docker do. `volatile` (where the kernel has it)
    skips syncing the upper on unmount: for a mount used once whose upper is made durable
    otherwise (a build step's layer); such an upper/work pair cannot be mounted again.
    """
    volatile = volatile and upper is not None and volatile_supported()
    absolute = overlay_options(
        [str(p) for p in lowers], str(upper) if upper else None, str(work) if work else None,
        volatile,
    )  # fmt: skip
    if len(absolute) <= _MAX_OPTIONS and not any(c in str(base) for c in ",:="):
        try:
            _mount("overlay", str(target), "overlay", 0, absolute)
            return
        except OSError as exc:
            if volatile and exc.errno == errno.EINVAL:  # a kernel without it after all
                mount_overlay(lowers, upper, work, target, base)
                return
            raise Unavailable(
                f"cannot mount overlay on {target}: {exc.strerror}",
                hint="set DOCKYARD_SNAPSHOTTER=copy where overlayfs is not available",
            ) from exc
    def short(path: Path | None) -> str | None:
        # upper/work stay absolute where they can, so /proc/self/mountinfo names them fully
        if path is None:
            return None
        return os.path.relpath(path, base) if any(c in str(path) for c in ",:=") else str(path)

    relative = overlay_options([os.path.relpath(p, base) for p in lowers], short(upper), short(work),
                               volatile)  # fmt: skip
    if len(relative) > _MAX_OPTIONS:
        raise Unavailable(
            f"too many layers to mount on {target} ({len(lowers)})",
            hint="squash the image to fewer layers",
        )
    import subprocess  # (only for a mount too long for mount(2): not on every command's path)

    proc = subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", relative, str(target)],
        cwd=base,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise Unavailable(
            f"cannot mount overlay on {target}: {proc.stderr.strip()}",
            hint="set DOCKYARD_SNAPSHOTTER=copy where overlayfs is not available",
        )


def bind_mount(source: Path, target: Path, readonly: bool = False) -> None:
    try:
        _mount(str(source), str(target), None, MS_BIND | MS_REC, None)
        if readonly:
            _mount("none", str(target), None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)
    except OSError as exc:
        if readonly and is_mountpoint(target):
            unmount(target)
        raise Unavailable(f"cannot bind-mount {source} on {target}: {exc.strerror}") from exc


def unmount(target: Path) -> None:
    """Detach whatever is mounted on `target` (lazily, as Docker does); no-op if nothing is."""
    rc = _c().umount2(os.fsencode(target), ctypes.c_int(MNT_DETACH))
    if rc != 0:
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOENT):
            return
        raise Unavailable(f"cannot unmount {target}: {os.strerror(err)}")


def is_mountpoint(path: Path) -> bool:
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and _unescape(fields[4]) == target:
                    return True
    except OSError:
        return False
    return False


def _unescape(field: str) -> str:
    return (
        field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
        .replace("\\134", "\\")
    )


def overlay_works(scratch: Path) -> bool:
    """Probe: can we mount an overlay with an upper dir in `scratch` (created, then removed)?"""
    if os.geteuid() != 0:
        return False
    dirs = {name: scratch / name for name in ("lower", "upper", "work", "merged")}
    try:
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        os.setxattr(dirs["lower"], "trusted.overlay.opaque", b"y")  # layers need xattrs
        os.mknod(dirs["lower"] / "wh", 0o20600, os.makedev(0, 0))  # ... and whiteouts
        _mount(
            "overlay",
            str(dirs["merged"]),
            "overlay",
            0,
            overlay_options([str(dirs["lower"])], str(dirs["upper"]), str(dirs["work"])),
        )
    except OSError:
        return False
    else:
        unmount(dirs["merged"])
        return True
    finally:
        import subprocess

        subprocess.run(["rm", "-rf", "--one-file-system", str(scratch)], check=False)
