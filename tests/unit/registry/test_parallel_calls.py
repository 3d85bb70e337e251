"""The registry client's small thread runner: every call runs, results in order, errors surface."""

from __future__ import annotations

import threading

import pytest

from dockyard.transports.registry.parallel import run_all


def test_results_in_order_with_n_at_once() -> None:
    together = threading.Barrier(3, timeout=30)  # breaks unless three calls run at once
    running, peak = 0, 0
    lock = threading.Lock()

    def call(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        together.wait()
        with lock:
            running -= 1
        return i * i

    assert run_all([lambda i=i: call(i) for i in range(6)], 3) == [i * i for i in range(6)]
    assert peak == 3


def test_every_call_runs_and_the_first_failure_is_raised() -> None:
    done: list[int] = []

    def ok(i: int) -> int:
        done.append(i)
        return i

    def fail(message: str) -> int:
        raise ValueError(message)

    calls = [lambda: ok(0), lambda: fail("first"), lambda: ok(2), lambda: fail("second")]
    with pytest.raises(ValueError, match="first"):
        run_all(calls, 2)
    assert sorted(done) == [0, 2]
    assert run_all([], 4) == []
