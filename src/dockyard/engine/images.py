"""Image commands by plain strings: list, tag, remove, inspect, history, prune (import: image_import)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard import reference
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.image import StoredImage
from dockyard.oci.config import parse_time
from dockyard.store import Store, gc
from dockyard.store.images import ImageRecord, normalize_name, parse_ref

# -- containers hook ----------------------------------------------------------------------

InUseCheck = Callable[[Store, str], bool]
_IN_USE_CHECKS: list[InUseCheck] = []


def register_in_use_check(fn: InUseCheck) -> None:
    """Areas that hold images (containers) add `fn(store, image_id) -> bool` here."""
    if fn not in _IN_USE_CHECKS:
        _IN_USE_CHECKS.append(fn)


def is_image_in_use(store: Store, image_id: str) -> bool:
    """True if a container (or anything registered) uses the image; rmi/prune then refuse."""
    from dockyard.engine.containers import containers_using_image

    if containers_using_image(store.db, image_id):
        return True
    return any(check(store, image_id) for check in _IN_USE_CHECKS)


# -- summaries ----------------------------------------------------------------------------


def familiar(name: str) -> str:
    """`docker.io/library/alpine:latest` -> `alpine:latest` (unchanged if unparsable)."""
    try:
        return reference.familiar(name)
    except DockyardError:
        return name


def _created_ts(created: str | None) -> float | None:
    if not created:
        return None
    try:
        return parse_time(created).timestamp()
    except DockyardError:
        return None


@dataclass
class ImageSummary:
    id: str
    repo_tags: list[str]  # familiar "alpine:latest"
    repo_digests: list[str]  # familiar "alpine@sha256:..."
    created: float | None
    size: int
    labels: dict[str, str] = field(default_factory=dict)
    parent: str | None = None
    has_children: bool = False

    @property
    def dangling(self) -> bool:
        return not self.repo_tags


def summarize(store: Store, record: ImageRecord) -> ImageSummary:
    image = StoredImage(store, record)
    config = image.config_dict
    labels = ((config.get("config") or {}).get("Labels")) or {}
    return ImageSummary(
        id=record.id,
        repo_tags=[familiar(n) for n in record.names],
        repo_digests=[familiar(d) for d in record.repo_digests],
        created=_created_ts(config.get("created")),
        size=image.size,
        labels=dict(labels),
        parent=record.parent,
        has_children=bool(store.images.children(record.id)),
    )


def _parse_filters(filters: list[str] | tuple[str, ...]) -> dict[str, list[str]]:
    allowed = ("dangling", "reference", "label", "before", "since")
    out: dict[str, list[str]] = {}
    for item in filters:
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq or key not in allowed:
            raise InvalidArgument(
                f"invalid filter {item!r}",
                hint="use dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before=IMAGE"
                " or since=IMAGE",
            )
        if key == "dangling" and value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(
                f"invalid filter 'dangling={value}'", hint="dangling is true or false"
            )
        out.setdefault(key, []).append(value)
    return out


def _matches_reference(tag: str, patterns: list[str]) -> bool:
    """Docker's reference filter: a glob on the familiar `repo` or `repo:tag`."""
    repo = tag.rpartition(":")[0]
    return any(_path_match(p, tag) or _path_match(p, repo) for p in patterns)


def _path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: `*` and `?` never match `/`."""
    parts = []
    for ch in pattern:
        parts.append("[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch))
    return re.fullmatch("".join(parts), name) is not None


def _matches_labels(summary: ImageSummary, wanted: list[str]) -> bool:
    for item in wanted:
        key, eq, value = item.partition("=")
        if key not in summary.labels or (eq and summary.labels[key] != value):
            return False
    return True


def list_images(
    store: Store, *, all: bool = False, filters: list[str] | tuple[str, ...] = ()
) -> list[ImageSummary]:
    """What `docker images` shows, newest first (intermediate images only with `all`)."""
    wanted = _parse_filters(filters)
    out = [summarize(store, r) for r in store.images.list()]
    if not all:
        out = [s for s in out if not (s.dangling and s.has_children)]
    if "dangling" in wanted:
        want = wanted["dangling"][-1].lower() in ("true", "1")
        out = [s for s in out if s.dangling == want]
    if "reference" in wanted:  # docker shows only the matching names of an image
        for s in out:
            s.repo_tags = [t for t in s.repo_tags if _matches_reference(t, wanted["reference"])]
        out = [s for s in out if s.repo_tags]
    if "label" in wanted:
        out = [s for s in out if _matches_labels(s, wanted["label"])]
    for key, keep_older in (("before", True), ("since", False)):
        for ref in wanted.get(key, []):
            pivot = summarize(store, store.images.resolve(ref)).created or 0.0
            out = [s for s in out if _on_side(s.created or 0.0, pivot, keep_older)]
    out.sort(key=lambda s: s.created or 0.0, reverse=True)
    return out


def _on_side(created: float, pivot: float, older: bool) -> bool:
    return created < pivot if older else created > pivot


# -- tag / remove -------------------------------------------------------------------------


def tag_image(store: Store, source: str, target: str) -> str:
    """`docker tag SOURCE TARGET`; returns the normalized new name."""
    name = normalize_name(target)
    record = store.images.resolve(source)
    return store.images.tag(name, record.manifest_digest)


def _is_name_ref(store: Store, ref: str) -> str | None:
    """The stored name `ref` denotes, if it names an image by tag (not by ID or digest)."""
    if reference.is_image_id(ref):
        return None
    try:
        parsed = parse_ref(ref)
    except InvalidArgument:
        return None
    if parsed.tagged and store.db.query(
        "SELECT 1 FROM image_names WHERE name = ?", (parsed.tagged,)
    ):
        return parsed.tagged
    return None


def _digest_ref(ref: str) -> str | None:
    if reference.is_image_id(ref) or "@" not in ref:
        return None
    parsed = parse_ref(ref)
    return f"{parsed.repository}@{parsed.digest}"


def remove_image(store: Store, ref: str, *, force: bool = False, prune: bool = True) -> list[str]:
    """`docker rmi REF`: untag when other names remain, else delete. Lines to print."""
    record = store.images.resolve(ref)
    lines: list[str] = []
    name = _is_name_ref(store, ref)
    digest_ref = _digest_ref(ref)
    in_use = is_image_in_use(store, record.id)
    if name is not None and (len(record.names) > 1 or in_use):
        if in_use and len(record.names) == 1 and not force:
            raise Conflict(
                f'unable to remove repository reference "{ref}" (must force) - a container'
                f" is using its referenced image {record.short_id}",
                hint="remove the container first, or use -f to untag only",
            )
        store.images.untag(name)
        return [f"Untagged: {familiar(name)}"]
    if digest_ref is not None and digest_ref in record.repo_digests and len(record.names) > 0:
        with store.db.transaction() as conn:
            conn.execute("DELETE FROM image_repo_digests WHERE ref = ?", (digest_ref,))
        return [f"Untagged: {familiar(digest_ref)}"]
    if name is None and len(record.names) > 1 and not force:
        raise Conflict(
            f"unable to delete {record.short_id} (must be forced) - image is referenced in"
            " multiple repositories",
            hint="remove it by name, or use -f to remove every name",
        )
    if store.images.children(record.id):
        raise Conflict(
            f"unable to delete {record.short_id} (cannot be forced) - image has dependent"
            " child images",
            hint="remove the images built on it first",
        )
    if in_use:
        if not force:
            raise Conflict(
                f"unable to delete {record.short_id} (must be forced) - image is being used"
                " by a container",
                hint="remove the container first (docker rm)",
            )
        for n in record.names:
            store.images.untag(n)
            lines.append(f"Untagged: {familiar(n)}")
        return lines
    lines += [f"Untagged: {familiar(n)}" for n in record.names]
    lines += [f"Untagged: {familiar(d)}" for d in record.repo_digests]
    lines += _delete_chain(store, record, prune)
    return lines


def _delete_chain(store: Store, record: ImageRecord, prune: bool) -> list[str]:
    """Delete an image, then (with `prune`) parents left unnamed and childless."""
    lines = []
    current: ImageRecord | None = record
    while current is not None:
        store.images.remove(current.id)
        lines.append(f"Deleted: {current.id}")
        parent = current.parent
        current = None
        if prune and parent:
            try:
                candidate = store.images.get(parent)
            except NotFound:
                break
            if not candidate.names and not store.images.children(parent) and not is_image_in_use(
                store, parent
            ):
                current = candidate
    return lines


def remove_images(
    store: Store, refs: list[str] | tuple[str, ...], *, force: bool = False, prune: bool = True
) -> tuple[list[str], list[DockyardError]]:
    """Remove each ref (docker goes on after a failure); lines and errors, then collect blobs."""
    lines: list[str] = []
    errors: list[DockyardError] = []
    for ref in refs:
        try:
            lines += remove_image(store, ref, force=force, prune=prune)
        except DockyardError as exc:
            errors.append(exc)
    if any(line.startswith("Deleted:") for line in lines):
        import dockyard.build.cache  # noqa: F401  (registers the build cache's GC roots)

        gc.try_collect(store)
    return lines, errors


# -- inspect / history --------------------------------------------------------------------

_CONFIG_DEFAULTS: dict[str, Any] = {
    "Env": None, "Cmd": None, "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None,
}


def inspect_image(store: Store, ref: str) -> dict[str, Any]:
    """`docker image inspect` for one image, in Docker's JSON shape."""
    image = store.image(ref)
    config = image.config_dict
    container = {**_CONFIG_DEFAULTS, **(config.get("config") or {})}
    last_tag = store.db.query(
        "SELECT MAX(n.created) AS t FROM image_names n JOIN image_manifests m"
        " ON n.manifest_digest = m.digest WHERE m.image_id = ?",
        (image.id,),
    )
    tagged = last_tag[0]["t"] if last_tag else None
    from dockyard.oci.config import format_time

    out: dict[str, Any] = {
        "Id": image.id,
        "RepoTags": [familiar(n) for n in image.record.names],
        "RepoDigests": [familiar(d) for d in image.record.repo_digests],
        "Parent": image.record.parent or "",
        "Comment": config.get("comment") or "",
        "Created": config.get("created") or "0001-01-01T00:00:00Z",
        "DockerVersion": config.get("docker_version") or "",
        "Author": config.get("author") or "",
        "Config": container,
        "Architecture": config.get("architecture") or "",
    }
    if config.get("variant"):
        out["Variant"] = config["variant"]
    out["Os"] = config.get("os") or ""
    if config.get("os.version"):
        out["OsVersion"] = config["os.version"]
    out["Size"] = image.size
    out["GraphDriver"] = {"Data": None, "Name": "overlayfs"}
    out["RootFS"] = {"Type": "layers", "Layers": image.diff_ids}
    out["Metadata"] = {
        "LastTagTime": _fmt_time(tagged, format_time) if tagged else "0001-01-01T00:00:00Z"
    }
    out["Descriptor"] = {
        "mediaType": image.manifest.effective_media_type,
        "digest": image.manifest_digest,
        "size": len(image.manifest_bytes),
    }
    return out


def _fmt_time(ts: float, format_time: Callable[[Any], str]) -> str:
    from datetime import UTC, datetime

    return format_time(datetime.fromtimestamp(ts, UTC))


@dataclass
class HistoryRow:
    image: str  # full image ID for the top row, "<missing>" below it
    created: float | None
    created_by: str
    size: int
    comment: str


def image_history(store: Store, ref: str) -> list[HistoryRow]:
    """`docker history`: newest step first; layer sizes from the manifest."""
    image = store.image(ref)
    config = image.config_dict
    sizes = [d.size for d in image.manifest.layers]
    history = config.get("history") or []
    rows: list[HistoryRow] = []
    layer = 0
    for entry in history:
        if not isinstance(entry, dict):
            continue
        size = 0
        if not entry.get("empty_layer"):
            size = sizes[layer] if layer < len(sizes) else 0
            layer += 1
        rows.append(
            HistoryRow(
                "<missing>", _created_ts(entry.get("created")),
                str(entry.get("created_by") or ""), size, str(entry.get("comment") or ""),
            )
        )
    for extra in sizes[layer:]:  # layers without a history entry
        rows.append(HistoryRow("<missing>", None, "", extra, ""))
    rows.reverse()
    if rows:
        rows[0].image = image.id
    return rows


# -- prune --------------------------------------------------------------------------------


@dataclass
class PruneReport:
    deleted: list[str] = field(default_factory=list)  # "untagged: x" / "deleted: sha256:..."
    space_reclaimed: int = 0


def prune_images(
    store: Store, *, all: bool = False, filters: list[str] | tuple[str, ...] = ()
) -> PruneReport:
    """Remove dangling images (every unused one with `all`), then unreferenced blobs."""
    report = PruneReport()
    wanted = _parse_filters(filters)
    if "label" in wanted or "reference" in wanted or "dangling" in wanted:
        candidates = list_images(store, all=True, filters=filters)
    else:
        candidates = list_images(store, all=True)
    if not all:
        candidates = [s for s in candidates if s.dangling]
    # children before parents: newest first is the order they were made
    for summary in candidates:
        if is_image_in_use(store, summary.id) or store.images.children(summary.id):
            continue
        try:
            record = store.images.get(summary.id)
        except NotFound:
            continue
        report.deleted += [f"untagged: {familiar(n)}" for n in record.names]
        report.deleted += [f"untagged: {familiar(d)}" for d in record.repo_digests]
        report.deleted += [
            line.lower().replace("deleted:", "deleted:") for line in _delete_chain(store, record, True)
        ]
    from dockyard.build import cache as build_cache  # its records are GC roots too

    build_cache.prune_for_images(store, all=all)  # -a: all of it, as `builder prune -a`
    result = gc.collect(store)
    report.space_reclaimed = result.bytes_freed
    return report

