"""The no-change rebuild: answer a build whose inputs provably did not change since a recorded
build in the same store, without parsing the Dockerfile or hashing the context.

A record is keyed by everything the request says (context directory, Dockerfile path and bytes,
the ignore files' bytes, build args, target, labels, network, platform). It holds a signature of
the context taken *before* that build read any file: every entry's path, type and permission
bits, owner, size, mtime, ctime and inode (directories: path, mode, owner). A content change
always moves ctime, so equal signatures mean equal content. Entries the ignore file excludes are
left out. A build is not recorded when any entry changed in the last second (a later change in
the same timestamp tick would go unseen, git's "racily clean" case), when it reads something
outside the context (ADD of a URL), or when its context came as a tar. A replay also checks that
every base image / `COPY --from` image name still resolves to the same image and that the result
is still complete in the store; `builder prune` drops the records with the cache.

This module is imported on every build: it stays light (no Dockerfile parser, no executor).
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard import records
from dockyard.smallhash import sha256
from dockyard.store.db import register_schema

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from dockyard.build.options import BuildOptions
    from dockyard.build.progress import Progress
    from dockyard.store import Store

FORMAT = "dockyard-build-replay-v2"
# Entries changed this recently make a build not recordable: a second change within the same
# timestamp tick (a few ms on local filesystems) would leave mtime and ctime as they were.
RACY_NS = 1_000_000_000
MAX_ENTRIES = 200_000  # larger contexts are not recorded (the walk would cost too much)

register_schema(
    "build_replay",
    """
    CREATE TABLE IF NOT EXISTS build_replay (
        key TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        created REAL NOT NULL
    )
    """,
)


class Signature:
    """A context's stat signature; `racy` when an entry changed too recently to trust it."""

    def __init__(self, digest: str, racy: bool, entries: int) -> None:
        self.digest = digest
        self.racy = racy
        self.entries = entries


class Record(records.Record):
    """What a replay needs of a finished build."""

    _fields = ("signature", "image_id", "manifest_digest", "externals", "steps", "skipped")

    def __init__(
        self, signature: str, image_id: str, manifest_digest: str,
        externals: dict[str, list[str]] | None = None, steps: list[str] | None = None,
        skipped: list[str] | None = None,
    ) -> None:  # fmt: skip
        self.signature = signature
        self.image_id = image_id
        self.manifest_digest = manifest_digest
        self.externals: dict[str, list[str]] = externals or {}  # see externals_of()
        self.steps: list[str] = steps or []  # progress lines, in order
        self.skipped: list[str] = skipped or []  # context paths .dockerignore leaves out

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Record | None:
        try:
            doc = json.loads(text)
            return cls(**doc)
        except (ValueError, TypeError):
            return None


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def request_key(context_dir: Path, dockerfile: Path | None, dockerfile_text: str | None,
                options: BuildOptions) -> tuple[str, Path] | None:  # fmt: skip
    """(key, context root) of a directory build, or None when the Dockerfile cannot be read
    (the full path then reports the error)."""
    root = context_dir.resolve()
    if dockerfile_text is not None:
        df_path, df_bytes = "-", dockerfile_text.encode("utf-8", "surrogateescape")
    else:
        path = (dockerfile if dockerfile is not None else root / "Dockerfile").absolute()
        data = _read(path)
        if data is None:
            return None
        df_path, df_bytes = str(path), data
    ignores = [root / ".dockerignore"]
    if dockerfile is not None:
        ignores.append(dockerfile.absolute().with_name(dockerfile.name + ".dockerignore"))
    doc = {
        "format": FORMAT,
        "root": str(root),
        "dockerfile": [df_path, sha256(df_bytes).hexdigest()],
        "ignore": [sha256(d).hexdigest() if d is not None else None
                   for d in map(_read, ignores)],  # fmt: skip
        "build_args": sorted(options.build_args.items()),
        "target": options.target,
        "labels": sorted(options.labels.items()),
        "network": options.network,
        "platform": options.platform,
    }
    return sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest(), root


def signature(root: Path, skip: Callable[[str, bool], bool]) -> Signature | None:
    """Stat every entry below `root` (not those `skip(relpath, is_dir)` leaves out); None when
    the context is too large or unreadable (then nothing is recorded or replayed)."""
    digest = sha256()
    newest = 0
    count = 0
    started = time.time_ns()
    try:
        st = os.stat(root)
    except OSError:
        return None
    digest.update(f"\0{st.st_mode:o}\0{st.st_uid}\0{st.st_gid}\n".encode())
    todo = [(str(root), "")]
    while todo:
        path, rel = todo.pop()
        try:
            with os.scandir(path) as it:
                children = sorted(it, key=lambda d: d.name)
        except OSError:
            return None
        for child in children:
            crel = f"{rel}/{child.name}" if rel else child.name
            try:
                cst = child.stat(follow_symlinks=False)
            except OSError:
                return None
            is_dir = stat.S_ISDIR(cst.st_mode)
            if skip(crel, is_dir):
                continue
            count += 1
            if count > MAX_ENTRIES:
                return None
            name = crel.encode("utf-8", "surrogateescape")
            if is_dir:
                digest.update(b"%s\0%o\0%d\0%d\n" % (name, cst.st_mode, cst.st_uid, cst.st_gid))
                todo.append((child.path, crel))
                continue
            digest.update(b"%s\0%o\0%d\0%d\0%d\0%d\0%d\0%d\n" % (
                name, cst.st_mode, cst.st_uid, cst.st_gid, cst.st_size, cst.st_mtime_ns,
                cst.st_ctime_ns, cst.st_ino))  # fmt: skip
            newest = max(newest, cst.st_mtime_ns, cst.st_ctime_ns)
    return Signature(digest.hexdigest(), newest > started - RACY_NS, count)


def load(store: Store, key: str) -> Record | None:
    store.db.ensure()
    rows = store.db.query("SELECT record FROM build_replay WHERE key = ?", (key,))
    return Record.from_json(rows[0]["record"]) if rows else None


def save(store: Store, key: str, record: Record) -> None:
    store.db.ensure()
    with store.db.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO build_replay(key, record, created) VALUES (?, ?, ?)",
                     (key, record.to_json(), time.time()))  # fmt: skip


def forget_all(store: Store) -> int:
    store.db.ensure()
    with store.db.transaction() as conn:
        return int(conn.execute("DELETE FROM build_replay").rowcount)


def forget_gone(store: Store) -> int:
    """Drop the records whose resulting image is no longer in the image index."""
    store.db.ensure()
    present = {r["id"] for r in store.db.query("SELECT id FROM images")}
    gone = []
    for row in store.db.query("SELECT key, record FROM build_replay"):
        record = Record.from_json(row["record"])
        if record is None or record.image_id not in present:
            gone.append((row["key"],))
    with store.db.transaction() as conn:
        conn.executemany("DELETE FROM build_replay WHERE key = ?", gone)
    return len(gone)


def _externals_same(store: Store, externals: dict[str, list[str]]) -> bool:
    """Each image name the build resolved still names the same image. A plain tag is looked up
    by its stored (normalized) name without parsing it again; other references are resolved."""
    from dockyard.errors import DockyardError

    for ref, (tagged, image_id) in externals.items():
        if tagged:
            rows = store.db.query(
                "SELECT m.image_id FROM image_names n JOIN image_manifests m"
                " ON n.manifest_digest = m.digest WHERE n.name = ?", (tagged,))  # fmt: skip
            if not rows or rows[0]["image_id"] != image_id:
                return False
            continue
        try:
            if store.images.resolve(ref).id != image_id:
                return False
        except DockyardError:
            return False
    return True


def externals_of(store: Store, resolved: dict[str, str]) -> dict[str, list[str]]:
    """What a record keeps of the images a build resolved: ref -> [stored tag name or "", ID]."""
    from dockyard.errors import DockyardError
    from dockyard.store.images import parse_ref

    out: dict[str, list[str]] = {}
    for ref, image_id in resolved.items():
        tagged = ""
        if not ref.startswith("sha256:"):
            try:
                parsed = parse_ref(ref)
                tagged = parsed.tagged or "" if parsed.digest is None else ""
            except DockyardError:
                tagged = ""
        out[ref] = [tagged, image_id]
    return out


def _complete(store: Store, record: Record) -> bool:
    """The result's config, manifest and layers are all still in the content store."""
    content = store.content
    if not (content.has(record.image_id) and content.has(record.manifest_digest)):
        return False
    try:
        manifest = json.loads(content.read_bytes(record.manifest_digest))
        layers = [d["digest"] for d in manifest.get("layers") or ()]
    except (ValueError, OSError, KeyError, TypeError, AttributeError):
        return False
    return all(content.has(d) for d in layers)


def replay(store: Store, key: str, root: Path, names: Iterable[str],
           progress: Progress) -> str | None:  # fmt: skip
    """The image ID of the recorded build when nothing changed (tagging it with `names`, showing
    every step CACHED), else None: the caller then builds for real."""
    record = load(store, key)
    if record is None:
        return None
    skipped = set(record.skipped)
    sig = signature(root, lambda rel, _is_dir: rel in skipped)
    if sig is None or sig.digest != record.signature:
        return None
    with store.lease():
        if not _externals_same(store, record.externals) or not _complete(store, record):
            return None
        _tag(store, record, list(names))
    _show(progress, record, list(names))
    return record.image_id


def _tag(store: Store, record: Record, names: list[str]) -> None:
    from dockyard.errors import NotFound

    index = store.images
    try:
        index.get(record.image_id)
        present = True
    except NotFound:
        present = False
    todo = []
    for name in names:
        rows = store.db.query("SELECT manifest_digest FROM image_names WHERE name = ?", (name,))
        if not rows or rows[0]["manifest_digest"] != record.manifest_digest:
            todo.append(name)
    if todo or not present:
        index.add(record.manifest_digest, record.image_id, todo)


def _show(progress: Progress, record: Record, names: list[str]) -> None:
    progress.header()
    for line in record.steps:
        vertex = progress.vertex(line)
        if "] FROM " in line or line.startswith("[internal] "):
            vertex.done()
        else:
            vertex.cached()
    export = progress.vertex("exporting to image")
    export.note(f"writing image {record.image_id} done")
    for name in names:
        export.note(f"naming to {name} done")
    export.done()
    progress.summary(True)


def steps_of(progress: Progress) -> list[str]:
    """The step lines a finished build showed (what a replay shows again)."""
    return [name for name, state, _ in progress.steps
            if state != "ERROR" and name != "exporting to image"]  # fmt: skip
