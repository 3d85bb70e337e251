"""Resolve `-u user[:group]` through a root filesystem's /etc/passwd and /etc/group, as Docker does."""

from __future__ import annotations

import os
from pathlib import Path

from dockyard.errors import InvalidArgument
from dockyard.records import FrozenRecord

MAX_LINKS = 40


class ResolvedUser(FrozenRecord):
    """The ids, supplementary groups and home directory a `-u` value names in an image."""

    def __init__(
        self, uid: int, gid: int, additional_gids: list[int] | None = None, home: str = "/",
        name: str | None = None,
    ) -> None:
        self.uid = uid
        self.gid = gid
        self.additional_gids: list[int] = [] if additional_gids is None else additional_gids
        self.home = home
        self.name = name


def resolve_in_root(root: Path, path: str) -> Path:
    """`path` inside `root`, following symlinks as if `root` were `/` (never escaping it)."""
    parts = [p for p in path.split("/") if p and p != "."]
    current = root
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        if candidate.is_symlink():
            links += 1
            if links > MAX_LINKS:
                raise InvalidArgument(f"too many symlinks resolving {path} in the image")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = root
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        current = candidate
    return current


def _read_entries(root: Path | None, name: str) -> list[list[str]]:
    if root is None:
        return []
    try:
        text = resolve_in_root(root, f"/etc/{name}").read_text(errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def resolve_user(root: Path | None, spec: str, group_add: list[str] | None = None) -> ResolvedUser:
    """Docker's rules: names must exist in the image; numeric IDs need not; root by default."""
    spec = spec.strip()
    user_part, _, group_part = spec.partition(":")
    passwd = _read_entries(root, "passwd")
    groups = _read_entries(root, "group")

    uid, gid, home, name = 0, 0, "/", None
    if user_part:
        match = next(
            (
                r
                for r in passwd
                if len(r) >= 4 and (r[0] == user_part or (_int(user_part) is not None and r[2] == user_part))
            ),
            None,
        )
        if match is not None:
            name, uid, gid = match[0], int(match[2] or 0), int(match[3] or 0)
            home = match[5] if len(match) > 5 and match[5] else "/"
        elif _int(user_part) is not None:
            uid = int(user_part)
        else:
            raise InvalidArgument(
                f"unable to find user {user_part}: no matching entries in passwd file",
                hint="use a user that exists in the image, or a numeric uid[:gid]",
            )
    elif passwd:
        root_row = next((r for r in passwd if len(r) >= 6 and r[2] == "0"), None)
        if root_row is not None:
            name, home = root_row[0], root_row[5] or "/"

    if group_part:
        gid = _lookup_group(groups, group_part)

    extra: list[int] = []
    if name is not None and not group_part:
        for row in groups:
            if len(row) >= 4 and name in row[3].split(",") and row[2].isdigit():
                g = int(row[2])
                if g != gid and g not in extra:
                    extra.append(g)
    for name_or_gid in group_add or []:
        gv = _lookup_group(groups, name_or_gid)
        if gv not in extra:
            extra.append(gv)
    return ResolvedUser(uid=uid, gid=gid, additional_gids=extra, home=home, name=name)


def _lookup_group(groups: list[list[str]], group: str) -> int:
    for row in groups:
        if len(row) >= 3 and (row[0] == group or row[2] == group):
            return int(row[2] or 0)
    if group.isdigit():
        return int(group)
    raise InvalidArgument(
        f"unable to find group {group}: no matching entries in group file",
        hint="use a group that exists in the image, or a numeric gid",
    )
