"""One Database used by several threads at once: their transactions take turns, none fails."""

from __future__ import annotations

import threading
from pathlib import Path

from dockyard.store.db import Database, register_schema

register_schema("test_db_threads", "CREATE TABLE IF NOT EXISTS test_db_threads (n INTEGER)")


def test_concurrent_transactions_on_one_database_all_commit(tmp_path: Path) -> None:
    db = Database(tmp_path / "metadata.db")
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(50):
                with db.transaction() as conn:
                    conn.execute("INSERT INTO test_db_threads VALUES (?)", (k * 1000 + i,))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert db.query("SELECT COUNT(*) AS n FROM test_db_threads")[0]["n"] == 200
    db.close()
