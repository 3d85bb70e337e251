"""COPY/ADD sources before the copy: context paths, heredocs, https URLs (downloaded and checked
against --checksum), and what goes into the step's cache key for them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.build.context import BuildContext
from dockyard.build.copy import CopySource, entries_digest, parents_source
from dockyard.dockerfile.commands import Add, Copy
from dockyard.errors import InvalidArgument, Unavailable
from dockyard.records import Record

if TYPE_CHECKING:
    from dockyard.dockerfile.ignore import PatternMatcher
    from dockyard.store import Store

_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def is_url(src: str) -> bool:
    return src.startswith(("http://", "https://"))


def expand_heredoc(text: str, env: Mapping[str, str]) -> str:
    """$VAR and ${VAR} in an unquoted COPY heredoc, from the stage's environment."""
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), ""), text)


class Prepared(Record):
    """The sources of one COPY/ADD: local ones (copied now) and the digest for the cache key."""

    _fields = ("sources", "digest_parts")

    def __init__(self, sources: list[CopySource] | None = None,
                 digest_parts: list[str] | None = None) -> None:  # fmt: skip
        self.sources: list[CopySource] = sources if sources is not None else []
        self.digest_parts: list[str] = digest_parts if digest_parts is not None else []

    @property
    def digest(self) -> str:
        return hashlib.sha256("\n".join(self.digest_parts).encode()).hexdigest()


def _download(store: Store, url: str, checksum: str, workdir: Path) -> CopySource:
    import httpx

    name = url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    name = name if name and "://" not in name and name not in (".", "..") else "__unnamed__"
    path = workdir / f"download-{hashlib.sha256(url.encode()).hexdigest()[:16]}"
    digest = hashlib.sha256()
    mtime = None
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as resp:
            if resp.status_code >= 400:
                raise Unavailable(
                    f"failed to load cache key: invalid response status {resp.status_code}"
                    f" for {url}",
                    hint="check the URL in ADD",
                )
            with open(path, "wb") as out:
                for chunk in resp.iter_bytes(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            modified = resp.headers.get("last-modified")
            if modified:
                try:
                    from email.utils import parsedate_to_datetime

                    mtime = parsedate_to_datetime(modified).timestamp()
                except (TypeError, ValueError):
                    mtime = None
    except httpx.HTTPError as exc:
        raise Unavailable(f"failed to download {url}: {exc}", hint="check the URL and network") from exc
    got = "sha256:" + digest.hexdigest()
    if checksum and checksum != got:
        raise InvalidArgument(
            f"digest mismatch {got}: {checksum}", hint="fix --checksum or the URL in ADD"
        )
    return CopySource(file=path, name=name, mode=0o600, mtime=mtime)


def prepare(
    store: Store,
    command: Copy | Add,
    context: BuildContext | None,
    env: Mapping[str, str],
    workdir: Path,
) -> Prepared:
    """Resolve every source of `command` against `context` (None: resolved later, from a
    stage or image; only the patterns are keyed then)."""
    out = Prepared()
    is_add = isinstance(command, Add)
    checksum = command.checksum if isinstance(command, Add) else ""
    if checksum and not is_add:
        raise InvalidArgument("checksum can't be specified for COPY")
    if checksum and (len(command.sources) != 1 or not is_url(command.sources[0])):
        raise InvalidArgument(
            "checksum requires exactly one HTTP(S) source", hint="ADD --checksum=sha256:... URL dest"
        )
    if checksum and not re.fullmatch(r"sha256:[0-9a-f]{64}", checksum):
        raise InvalidArgument(f"invalid checksum digest format: {checksum}",
                              hint="use --checksum=sha256:<64 hex digits>")  # fmt: skip
    unpack = is_add and (command.unpack is not False) if isinstance(command, Add) else False
    for src in command.sources:
        if is_url(src):
            if not is_add:
                raise InvalidArgument("source can't be a URL for COPY", hint="use ADD for URLs")
            source = _download(store, src, checksum, workdir)
            assert source.file is not None
            out.sources.append(source)
            out.digest_parts.append(f"url {src} {_file_digest(source.file)} {source.name}")
            continue
        if context is None:
            out.digest_parts.append(f"path {src}")
            continue
        source = context_source(context, command, src, unpack)
        out.sources.append(source)
        digest = entries_digest(context, source.entries, exclude_of(command), source.below)
        out.digest_parts.append(f"path {src} {digest}")
    for doc in command.heredocs:
        data = expand_heredoc(doc.data, env) if doc.expand else doc.data
        path = workdir / f"heredoc-{len(out.digest_parts)}"
        path.write_text(data)
        out.sources.append(CopySource(file=path, name=doc.path, mode=0o644))
        out.digest_parts.append(f"heredoc {doc.path} {hashlib.sha256(data.encode()).hexdigest()}")
    return out


def exclude_of(command: Copy | Add) -> PatternMatcher | None:
    """The --exclude patterns of a COPY/ADD (.dockerignore syntax), or None."""
    if not command.exclude:
        return None
    from dockyard.dockerfile.ignore import PatternMatcher

    return PatternMatcher(list(command.exclude))


def context_source(context: BuildContext, command: Copy | Add, src: str,
                   unpack: bool = False) -> CopySource:  # fmt: skip
    """What one path source names in `context` (with --parents: each match's kept path)."""
    if isinstance(command, Copy) and command.parents:
        return parents_source(context, src, exclude_of(command))
    return CopySource(context=context, entries=context.resolve_source(src), unpack=unpack)


def resolve_late(prepared: Prepared, command: Copy | Add, context: BuildContext) -> None:
    """Fill in the path sources of a COPY --from once the source root is mounted."""
    resolved = [context_source(context, command, src) for src in command.sources
                if not is_url(src)]  # fmt: skip
    prepared.sources[:0] = resolved


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
