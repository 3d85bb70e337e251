"""Run a few calls on threads, at most N at once: results in order, the first error re-raised.

(concurrent.futures would do, but importing it, and logging with it, costs every `pull` and
`push` several milliseconds of start-up.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def run_all(calls: Sequence[Callable[[], T]], workers: int) -> list[T]:
    """Call each of `calls` on up to `workers` threads; wait for all of them, then return their
    results in order or raise the exception of the first (in order) that failed."""
    results: list[T | None] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)
    lock = threading.Lock()
    next_index = 0

    def worker() -> None:
        nonlocal next_index
        while True:
            with lock:
                i = next_index
                next_index += 1
            if i >= len(calls):
                return
            try:
                results[i] = calls[i]()
            except BaseException as exc:  # re-raised in the caller's thread below
                errors[i] = exc

    threads = [
        threading.Thread(target=worker, daemon=True)
        for _ in range(max(1, min(workers, len(calls))))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for exc in errors:
        if exc is not None:
            raise exc
    return results  # type: ignore[return-value]
