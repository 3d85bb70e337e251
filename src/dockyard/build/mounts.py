"""RUN --mount for one build step: cache, bind, tmpfs and secret mounts, as BuildKit gives them.

- cache: a directory under <root>/build-mounts/cache/, one per id (default: the target), kept
  across builds (also with --no-cache) and never part of a layer. `sharing=shared` lets steps use
  it at once, `locked` makes them take turns, `private` gives a step a fresh directory when the
  first one is busy. `builder prune` removes them (mount_cache.prune).
- bind: a read-only view of a context path (default) or of a stage's / image's files (`from=`);
  `rw` makes it writable, the changes are thrown away.
- tmpfs: an empty tmpfs (`size=`).
- secret: a `--secret` value at /run/secrets/ID (or `target=`) and/or in an env var (`env=`),
  never in a layer, the config, the history or the cache key.

The mount points the runtime creates for them are cleaned up by build/stubs.py.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import InvalidArgument, NotFound
from dockyard.runtime.users import resolve_in_root

if TYPE_CHECKING:
    from dockyard.build.context import BuildContext
    from dockyard.dockerfile.commands import Mount
    from dockyard.image import StoredImage
    from dockyard.store import Store

SECRETS_DIR = "/run/secrets"
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", re.IGNORECASE)


@dataclass
class Prepared:
    mounts: list[dict[str, Any]] = field(default_factory=list)  # OCI runtime mounts
    env: list[str] = field(default_factory=list)  # secrets given as environment variables


def _flag(options: Mapping[str, str], *keys: str) -> bool:
    for key in keys:
        if key in options:
            return options[key].lower() not in ("false", "0")
    return False


def is_writable(mount: Mount) -> bool:
    """bind: read-only unless `rw`; cache: writable unless `ro`."""
    ro = _flag(mount.options, "ro", "readonly")
    if mount.type == "bind":
        return _flag(mount.options, "rw", "readwrite") and not ro
    return not ro


def target_of(mount: Mount, workdir: str) -> str:
    """The mount's absolute target (a relative one is below the working directory)."""
    if mount.type == "secret":
        target = mount.target or posixpath.join(SECRETS_DIR, secret_id(mount))
    else:
        target = mount.target
    if not target.startswith("/"):
        target = posixpath.join(workdir or "/", target)
    return posixpath.normpath(target)


def secret_id(mount: Mount) -> str:
    if mount.id:
        return mount.id
    if mount.target:
        return posixpath.basename(mount.target.rstrip("/"))
    if mount.env:
        return mount.env
    raise InvalidArgument("RUN --mount=type=secret needs an id or a target",
                          hint="write --mount=type=secret,id=NAME")  # fmt: skip


def cache_id(mount: Mount, workdir: str) -> str:
    return mount.id or target_of(mount, workdir)


def parse_size(value: str) -> int:
    """tmpfs `size=`: bytes, or with a k/m/g/t suffix (powers of 1024)."""
    match = _SIZE.fullmatch(value.strip())
    if not match:
        raise InvalidArgument(f"invalid tmpfs size {value!r}", hint="use e.g. size=64m")
    number, unit = match.groups()
    scale = 1024 ** ("kmgt".index(unit.lower()) + 1) if unit else 1
    return int(float(number) * scale)


# -- cache key ----------------------------------------------------------------------------
def key_details(mounts: list[Mount], context: BuildContext | None,
                images: Mapping[str, StoredImage]) -> list[str]:  # fmt: skip
    """What the step's cache key needs beyond the mount options: the content digest of each
    context bind source and the image each `from=` names (never a secret's value)."""
    from dockyard.build.copy import entries_digest

    out: list[str] = []
    for mount in mounts:
        if mount.from_ and mount.type in ("bind", "cache"):
            out.append(f"{mount.type} from {images[mount.from_].id} {mount.source}")
        elif mount.type == "bind" and context is not None:
            entries = context.resolve_source(mount.source or ".")
            out.append(f"bind {mount.source} {entries_digest(context, entries)}")
    return out


# -- the mounts ---------------------------------------------------------------------------
def _bind(source: Path, target: str, writable: bool) -> dict[str, Any]:
    return {"destination": target, "type": "bind", "source": str(source),
            "options": ["rbind", "rprivate", "rw" if writable else "ro"]}  # fmt: skip


def _copy_tree(src: Path, dst: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dst, symlinks=True)
    else:
        shutil.copy2(src, dst, follow_symlinks=False)
    return dst


def _filtered_copy(context: BuildContext, rel: str, dst: Path) -> Path:
    """A copy of context path `rel` without what .dockerignore leaves out."""
    entries = list(context.walk(rel))
    if rel in ("", "."):
        top_path, prefix = context.root, ""
    elif entries and entries[0].kind == "dir":
        top_path, prefix = entries[0].path, entries[0].relpath
        entries = entries[1:]
    else:
        if entries:
            shutil.copy2(entries[0].path, dst, follow_symlinks=False)
        return dst
    dst.mkdir()
    dirs = [(dst, top_path)]
    for entry in entries:
        sub = entry.relpath[len(prefix):].lstrip("/") if prefix else entry.relpath
        out = dst / sub
        if entry.kind == "dir":
            out.mkdir(exist_ok=True)
            dirs.append((out, entry.path))
        elif entry.kind == "symlink":
            os.symlink(entry.link_target or "", out)
        elif entry.kind == "file":
            shutil.copy2(entry.path, out)
    for out, src in reversed(dirs):
        shutil.copystat(src, out)
    return dst


def _context_source(context: BuildContext, mount: Mount, writable: bool, tmp: Path) -> Path:
    entries = context.resolve_source(mount.source or ".")
    if len(entries) != 1:
        raise NotFound(f"bind mount source {mount.source!r} matches {len(entries)} paths",
                       hint="name one file or directory of the context")  # fmt: skip
    entry = entries[0]
    if not writable and not context.matcher:
        return entry.path
    return _filtered_copy(context, entry.relpath or ".", tmp / "bind")


def _image_source(root: Path, mount: Mount, writable: bool, tmp: Path) -> Path:
    source = resolve_in_root(root, mount.source or "/")
    if not os.path.lexists(source):
        raise NotFound(f"bind mount source {mount.source or '/'!r} not found in {mount.from_}",
                       hint="check the path in the stage or image named by from=")  # fmt: skip
    return _copy_tree(source, tmp / "bind") if writable else source


def _secret_file(value: bytes, mount: Mount, stack: ExitStack) -> Path:
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    holder = Path(tempfile.mkdtemp(prefix="dybuild-secret-", dir=base))
    stack.callback(shutil.rmtree, holder, True)
    path = holder / "secret"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
    os.chown(path, mount.uid or 0, mount.gid or 0)
    os.chmod(path, mount.mode if mount.mode is not None else 0o400)
    os.chmod(holder, 0o755)
    return path


@contextmanager
def prepared(
    store: Store, rootfs: Path, workdir: str, mounts: list[Mount], *,
    context: BuildContext | None, images: Mapping[str, StoredImage],
    secrets: Mapping[str, bytes],
) -> Iterator[Prepared]:  # fmt: skip
    """The runtime mounts of one RUN step (held while the block runs)."""
    from dockyard.build.layers import readonly_rootfs
    from dockyard.build.mount_cache import use_cache

    out = Prepared()
    with ExitStack() as stack:
        tmp = store.tmpdir("build-mount-")
        stack.callback(shutil.rmtree, tmp, True)
        for n, mount in enumerate(mounts):
            target = target_of(mount, workdir)
            work = tmp / str(n)
            work.mkdir()
            writable = is_writable(mount)
            if mount.type == "secret":
                sid = secret_id(mount)
                if sid not in secrets:
                    if mount.required:
                        raise NotFound(f"secret {sid} not found",
                                       hint=f"pass --secret id={sid},src=PATH")  # fmt: skip
                    continue
                if mount.env:
                    out.env.append(f"{mount.env}={secrets[sid].decode(errors='replace')}")
                    if not mount.target:
                        continue
                out.mounts.append(_bind(_secret_file(secrets[sid], mount, stack), target, False))
            elif mount.type == "tmpfs":
                options = ["nosuid", "nodev", "strictatime", "mode=1777"]
                if mount.size:
                    options.append(f"size={parse_size(mount.size)}")
                out.mounts.append({"destination": target, "type": "tmpfs", "source": "tmpfs",
                                   "options": options})  # fmt: skip
            elif mount.type == "cache":
                seed = None
                if mount.from_:
                    seed_root = stack.enter_context(readonly_rootfs(store, images[mount.from_]))
                    seed = resolve_in_root(seed_root, mount.source or "/")
                path = stack.enter_context(use_cache(store, cache_id(mount, workdir), mount,
                                                     seed, bool(mount.from_)))  # fmt: skip
                out.mounts.append(_bind(path, target, writable))
            elif mount.type == "bind":
                if mount.from_:
                    root = stack.enter_context(readonly_rootfs(store, images[mount.from_]))
                    source = _image_source(root, mount, writable, work)
                elif context is not None:
                    source = _context_source(context, mount, writable, work)
                else:
                    raise InvalidArgument("bind mount without a build context")
                out.mounts.append(_bind(source, target, writable))
            else:
                raise InvalidArgument(f"RUN --mount=type={mount.type} is not supported",
                                      hint="use cache, bind, tmpfs or secret")  # fmt: skip
        yield out


def secret_from_cli(value: str, environ: Mapping[str, str]) -> tuple[str, bytes]:
    """`--secret id=ID[,src=PATH|,env=VAR][,type=file|env]` -> (id, value)."""
    fields: dict[str, str] = {}
    for part in value.split(","):
        key, sep, val = part.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid --secret {value!r}: {part!r} is not key=value",
                                  hint="use --secret id=NAME,src=PATH or id=NAME,env=VAR")  # fmt: skip
        fields[key.strip().lower()] = val
    sid = fields.get("id", "")
    src = fields.get("src") or fields.get("source") or ""
    env = fields.get("env", "")
    kind = fields.get("type", "")
    if kind == "env" and not env:
        env = src or sid
        src = ""
    if not sid:
        sid = posixpath.basename(src) if src else env
    if not sid:
        raise InvalidArgument(f"invalid --secret {value!r}: no id", hint="add id=NAME")
    if src:
        try:
            return sid, Path(src).expanduser().read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"cannot read secret {sid} from {src}: {exc.strerror}",
                                  hint="check the src= path") from exc  # fmt: skip
    name = env or sid
    if name not in environ:
        raise InvalidArgument(f"secret {sid}: environment variable {name} is not set",
                              hint=f"export {name}, or pass src=PATH")  # fmt: skip
    return sid, environ[name].encode()
