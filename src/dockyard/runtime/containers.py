"""Container records in SQLite and their state machine (created -> running -> exited -> removed)."""

from __future__ import annotations

import builtins
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from dockyard.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from dockyard.records import Record
from dockyard.store.db import Database, register_schema

register_schema(
    "containers",
    """
    CREATE TABLE IF NOT EXISTS containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image TEXT NOT NULL,
        image_id TEXT NOT NULL,
        created REAL NOT NULL,
        state TEXT NOT NULL,
        pid INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER NOT NULL DEFAULT 0,
        started_at REAL,
        finished_at REAL,
        restart_count INTEGER NOT NULL DEFAULT 0,
        config TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS port_reservations (
        host_port INTEGER NOT NULL,
        protocol TEXT NOT NULL,
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        PRIMARY KEY (host_port, protocol)
    );
    """,
)

CREATED, RUNNING, EXITED, REMOVING = "created", "running", "exited", "removing"
TRANSITIONS = {
    CREATED: {RUNNING, EXITED, REMOVING},
    RUNNING: {EXITED, REMOVING},
    EXITED: {RUNNING, REMOVING},
    REMOVING: set(),
}
NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

_ADJECTIVES = ("brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid",
               "merry", "nifty", "proud", "quirky", "sharp", "tender", "vivid", "wise", "zen")  # fmt: skip
_NAMES = ("archimedes", "babbage", "curie", "darwin", "euler", "fermat", "galileo", "hopper",
          "knuth", "lovelace", "noether", "pascal", "ritchie", "shannon", "turing", "wozniak")  # fmt: skip


class Container(Record):
    """One row of the `containers` table (plus its health, read from the container's directory)."""

    _uncompared = ("health",)

    def __init__(
        self, id: str, name: str, image: str, image_id: str, created: float, state: str = CREATED,
        pid: int = 0, exit_code: int = 0, started_at: float | None = None,
        finished_at: float | None = None, restart_count: int = 0,
        config: dict[str, Any] | None = None,
        health: dict[str, Any] | None = None,  # read, never stored here
    ) -> None:  # fmt: skip
        self.id = id
        self.name = name
        self.image = image
        self.image_id = image_id
        self.created = created
        self.state = state
        self.pid = pid
        self.exit_code = exit_code
        self.started_at = started_at
        self.finished_at = finished_at
        self.restart_count = restart_count
        self.config: dict[str, Any] = {} if config is None else config
        self.health = health

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.state == RUNNING


def _pick(words: tuple[str, ...]) -> str:
    """A random word from the OS's random source (the modulo bias of 64 bits is negligible)."""
    return words[int.from_bytes(os.urandom(8), "big") % len(words)]


def _row(r: Any) -> Container:
    return Container(r["id"], r["name"], r["image"], r["image_id"], r["created"], r["state"],
                     r["pid"], r["exit_code"], r["started_at"], r["finished_at"],
                     r["restart_count"], json.loads(r["config"]))  # fmt: skip


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise InvalidArgument(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            hint="pick a name such as web-1",
        )
    return name.lstrip("/")


class ContainerRecords:
    """The `containers` table: lookups by name, full or short ID; guarded state changes."""

    def __init__(self, db: Database, root: Path) -> None:
        self.db = db
        self.dir = root / "containers"

    def container_dir(self, cid: str) -> Path:
        return self.dir / cid

    def new_id(self) -> str:
        return os.urandom(32).hex()  # as secrets.token_hex, without its ~5 ms of imports

    def random_name(self) -> str:
        for _ in range(50):
            name = f"{_pick(_ADJECTIVES)}_{_pick(_NAMES)}"
            if not self.db.query("SELECT 1 FROM containers WHERE name = ?", (name,)):
                return name
        return f"{_pick(_ADJECTIVES)}_{os.urandom(4).hex()}"

    def insert(self, c: Container) -> None:
        try:
            with self.db.transaction() as conn:
                if conn.execute("SELECT 1 FROM containers WHERE name = ?", (c.name,)).fetchone():
                    raise self._name_taken(c.name)
                conn.execute(
                    "INSERT INTO containers VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (c.id, c.name, c.image, c.image_id, c.created, c.state, c.pid, c.exit_code,
                     c.started_at, c.finished_at, c.restart_count, json.dumps(c.config)),
                )  # fmt: skip
        except Exception as exc:
            if "UNIQUE" in str(exc):
                raise self._name_taken(c.name) from exc
            raise

    def _name_taken(self, name: str) -> Conflict:
        other = self.db.query("SELECT id FROM containers WHERE name = ?", (name,))
        cid = other[0]["id"] if other else "?"
        return Conflict(
            f'Conflict. The container name "/{name}" is already in use by container "{cid}".'
            " You have to remove (or rename) that container to be able to reuse that name.",
            hint=f"remove it with `dockyard rm -f {name}`, or pick another --name",
        )

    def get(self, ref: str) -> Container:
        ref = ref.lstrip("/")
        rows = self.db.query("SELECT * FROM containers WHERE id = ? OR name = ?", (ref, ref))
        if not rows and len(ref) >= 1 and all(ch in "0123456789abcdef" for ref_ch in [ref] for ch in ref_ch):
            rows = self.db.query("SELECT * FROM containers WHERE id LIKE ?", (ref + "%",))
            if len(rows) > 1:
                raise Conflict(f"multiple containers match ID prefix {ref}",
                               hint="give more characters of the ID")  # fmt: skip
        if not rows:
            raise NotFound(f"No such container: {ref}", hint="list containers with `dockyard ps -a`")
        return _row(rows[0])

    def list(self) -> list[Container]:
        return [_row(r) for r in self.db.query("SELECT * FROM containers ORDER BY created DESC")]

    def update(self, c: Container, **changes: Any) -> Container:
        """Apply changes (a state change must be allowed by TRANSITIONS) in one transaction."""
        new_state = changes.get("state")
        if new_state and new_state != c.state and new_state not in TRANSITIONS[c.state]:
            raise Conflict(f"container {c.name} cannot go from {c.state} to {new_state}")
        for k, v in changes.items():
            setattr(c, k, v)
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE containers SET state=?, pid=?, exit_code=?, started_at=?, finished_at=?,"
                " restart_count=?, config=? WHERE id=?",
                (c.state, c.pid, c.exit_code, c.started_at, c.finished_at, c.restart_count,
                 json.dumps(c.config), c.id),
            )  # fmt: skip
        return c

    def rename(self, c: Container, name: str) -> Container:
        """Give `c` the free, valid name `name` (Docker's errors otherwise)."""
        name = check_name(name)
        if name == c.name:
            raise InvalidArgument(
                "Renaming a container with the same name as its current name",
                hint="give the new name as the second argument",
            )
        try:
            with self.db.transaction() as conn:
                if conn.execute("SELECT 1 FROM containers WHERE name = ?", (name,)).fetchone():
                    raise self._name_taken(name)
                conn.execute("UPDATE containers SET name = ? WHERE id = ?", (name, c.id))
        except Exception as exc:
            if "UNIQUE" in str(exc):
                raise self._name_taken(name) from exc
            raise
        c.name = name
        return c

    def delete(self, cid: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM port_reservations WHERE container_id = ?", (cid,))
            conn.execute("DELETE FROM containers WHERE id = ?", (cid,))

    # -- ports ---------------------------------------------------------------------------
    def reserved_ports(self, exclude: str | None = None) -> set[tuple[int, str]]:
        rows = self.db.query("SELECT host_port, protocol, container_id FROM port_reservations")
        return {(r["host_port"], r["protocol"]) for r in rows if r["container_id"] != exclude}

    def reserve_ports(self, cid: str, ports: builtins.list[tuple[int, str]]) -> None:
        try:
            with self.db.transaction() as conn:
                for port, proto in ports:
                    conn.execute("INSERT INTO port_reservations VALUES (?,?,?)", (port, proto, cid))
        except Exception as exc:
            if "UNIQUE" in str(exc):
                raise AlreadyExists("port is already allocated",
                                    hint="choose another host port") from exc  # fmt: skip
            raise

    def release_ports(self, cid: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM port_reservations WHERE container_id = ?", (cid,))


def now() -> float:
    return time.time()
