"""The store's SQLite metadata database: WAL mode, one transaction per change, per-module schemas."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_SCHEMAS: dict[str, str] = {}
_lock = threading.Lock()


_VERSIONS_DDL = "CREATE TABLE IF NOT EXISTS schema_versions (name TEXT PRIMARY KEY, digest TEXT NOT NULL);"


def _digest(ddl: str) -> str:
    """sha256 of the DDL (without loading OpenSSL: this runs on every command's first query)."""
    from dockyard.smallhash import sha256

    return sha256(ddl.encode()).hexdigest()[:16]


def register_schema(name: str, ddl: str) -> None:
    """Declare a module's tables; `ddl` must be idempotent (CREATE ... IF NOT EXISTS)."""
    _SCHEMAS[name] = ddl


def _retry_locked(fn: Callable[[], object], attempts: int = 300) -> None:
    """Run `fn`, retrying while SQLite reports "database is locked" without waiting itself.

    Switching to (or confirming) WAL mode, and the first open while another process
    recovers the WAL, can fail with SQLITE_BUSY before the busy timeout applies.
    """
    for attempt in range(attempts):
        try:
            fn()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.01 + 0.001 * attempt)


class Database:
    """One connection per Database object; use `transaction()` for every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._applied: dict[str, str] = {}  # schema name -> digest of the DDL run in this db
        self._tx = threading.RLock()  # the connection is shared by threads: one transaction at a time

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            _retry_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._conn = conn
            self._ensure_schemas()
        return self._conn

    def _ensure_schemas(self) -> None:
        """Run the DDL of every registered schema this database has not seen in that exact
        text (a digest per schema in `schema_versions`): one read when nothing changed."""
        assert self._conn is not None
        with _lock:
            wanted = {name: _digest(ddl) for name, ddl in _SCHEMAS.items()}
            if all(self._applied.get(n) == d for n, d in wanted.items()):
                return
            try:
                rows = self._conn.execute("SELECT name, digest FROM schema_versions").fetchall()
                self._applied = {str(r[0]): str(r[1]) for r in rows}
            except sqlite3.OperationalError:  # a database made before schema versions
                self._applied = {}
            todo = [n for n, d in wanted.items() if self._applied.get(n) != d]
            if not todo:
                return
            script = ["BEGIN IMMEDIATE;", _VERSIONS_DDL]
            for name in todo:
                script += [_SCHEMAS[name], ";", "INSERT OR REPLACE INTO schema_versions VALUES ('",
                           name.replace("'", "''"), "', '", wanted[name], "');"]  # fmt: skip
            self._conn.executescript("".join(script) + "COMMIT;")
            self._applied.update({n: wanted[n] for n in todo})

    def ensure(self) -> None:
        """Create any tables registered since the connection opened."""
        self._ensure_schemas() if self._conn is not None else self.conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception.

        Threads share the connection (a pull records layers from several), so a transaction
        holds this Database's lock: another thread's waits instead of failing to BEGIN."""
        conn = self.conn
        with self._tx:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return list(self.conn.execute(sql, params))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._applied = {}
