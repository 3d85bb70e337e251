"""Named volumes: records in SQLite and data directories under <root>/volumes/NAME/_data."""

from __future__ import annotations

import builtins
import json
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.store.db import Database, register_schema

register_schema(
    "volumes",
    """
    CREATE TABLE IF NOT EXISTS volumes (
        name TEXT PRIMARY KEY,
        created REAL NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        anonymous INTEGER NOT NULL DEFAULT 0
    );
    """,
)
VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


@dataclass
class Volume:
    name: str
    created: float
    mountpoint: Path
    labels: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False

    def inspect(self) -> dict[str, Any]:
        return {
            "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created)),
            "Driver": "local",
            "Labels": self.labels or None,
            "Mountpoint": str(self.mountpoint),
            "Name": self.name,
            "Options": None,
            "Scope": "local",
        }


class Volumes:
    def __init__(self, db: Database, root: Path) -> None:
        self.db = db
        self.dir = root / "volumes"

    def _vol(self, r: Any) -> Volume:
        return Volume(r["name"], r["created"], self.dir / r["name"] / "_data",
                      json.loads(r["labels"]), bool(r["anonymous"]))  # fmt: skip

    def create(self, name: str | None = None, labels: dict[str, str] | None = None,
               anonymous: bool = False) -> Volume:  # fmt: skip
        name = name or secrets.token_hex(32)
        if not VOLUME_NAME.match(name):
            raise InvalidArgument(
                f'"{name}" includes invalid characters for a local volume name,'
                " only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                hint="pick a name such as data-1",
            )
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM volumes WHERE name = ?", (name,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO volumes VALUES (?,?,?,?)",
                             (name, time.time(), json.dumps(labels or {}), int(anonymous)))  # fmt: skip
        (self.dir / name / "_data").mkdir(parents=True, exist_ok=True)
        return self.get(name)

    def get(self, name: str) -> Volume:
        rows = self.db.query("SELECT * FROM volumes WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"get {name}: no such volume", hint="list volumes with `dockyard volume ls`")
        return self._vol(rows[0])

    def list(self) -> list[Volume]:
        return [self._vol(r) for r in self.db.query("SELECT * FROM volumes ORDER BY name")]

    def remove(self, name: str, in_use_by: builtins.list[str], force: bool = False) -> None:
        vol = self.get(name)
        if in_use_by and not force:
            raise Conflict(
                f"remove {name}: volume is in use - [{', '.join(in_use_by)}]",
                hint="remove the containers that use it first",
            )
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM volumes WHERE name = ?", (vol.name,))
        shutil.rmtree(self.dir / vol.name, ignore_errors=True)
