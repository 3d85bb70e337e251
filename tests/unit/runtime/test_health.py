"""HEALTHCHECK settings and state rules (Docker's): flags, merging with the image's, probe results."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime import health

S = health.NS


@pytest.mark.parametrize("text, ns", [("1s", S), ("1m30s", 90 * S), ("500ms", S // 2), ("0", 0),
                                      ("1.5h", 5400 * S), ("2us", 2000)])  # fmt: skip
def test_go_durations(text: str, ns: int) -> None:
    assert health.parse_duration(text, "--health-interval") == ns


@pytest.mark.parametrize("text", ["5", "1x", "", "s", "1s2"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid duration"):
        health.parse_duration(text, "--health-interval")


def test_negative_duration_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="--health-timeout cannot be negative"):
        health.parse_duration("-1s", "--health-timeout")


def test_flags() -> None:
    assert health.from_flags(None, None, None, None, None, None, False) is None
    assert health.from_flags(None, None, None, None, None, None, True) == {"Test": ["NONE"]}
    assert health.from_flags("curl -f x", "2s", None, "1m", None, 4, False) == {
        "Test": ["CMD-SHELL", "curl -f x"], "Interval": 2 * S, "StartPeriod": 60 * S, "Retries": 4}
    with pytest.raises(InvalidArgument, match="conflicts"):
        health.from_flags("true", None, None, None, None, None, True)
    with pytest.raises(InvalidArgument, match="--health-retries cannot be negative"):
        health.from_flags(None, None, None, None, None, -1, False)


def test_merge_takes_the_images_fields_the_override_leaves_unset() -> None:
    image = {"Test": ["CMD", "check"], "Interval": 5 * S, "Retries": 5}
    assert health.merge(image, None) == image
    assert health.merge(image, {"Interval": S}) == {"Test": ["CMD", "check"], "Interval": S, "Retries": 5}
    assert health.merge(image, {"Test": ["NONE"]})["Test"] == ["NONE"]
    assert health.merge(None, None) is None
    assert not health.enabled(health.merge(image, {"Test": ["NONE"]}))
    with pytest.raises(InvalidArgument, match="less than 1ms"):
        health.merge(None, {"Test": ["CMD", "x"], "Interval": 10})


def test_probe_args_use_the_images_shell() -> None:
    assert health.probe_args({"Test": ["CMD", "a", "b"]}, None) == ["a", "b"]
    assert health.probe_args({"Test": ["CMD-SHELL", "a && b"]}, None) == ["/bin/sh", "-c", "a && b"]
    assert health.probe_args({"Test": ["CMD-SHELL", "x"]}, ["/bin/bash", "-ec"]) == ["/bin/bash", "-ec", "x"]


def _entry(code: int) -> dict:
    return health.log_entry(0.0, 0.5, code, b"o" * 5000)


def test_results_make_it_healthy_then_unhealthy_after_retries() -> None:
    config = {"Test": ["CMD", "x"], "Retries": 2}
    state = {"Status": "starting", "FailingStreak": 0, "Log": []}
    state = health.record(state, config, _entry(1), started_at=0.0, probe_start=1.0)
    assert (state["Status"], state["FailingStreak"]) == ("starting", 1)
    state = health.record(state, config, _entry(0), 0.0, 2.0)
    assert (state["Status"], state["FailingStreak"]) == ("healthy", 0)
    for t in (3.0, 4.0):
        state = health.record(state, config, _entry(1), 0.0, t)
    assert (state["Status"], state["FailingStreak"]) == ("unhealthy", 2)
    for t in range(5, 10):
        state = health.record(state, config, _entry(2), 0.0, t)
    assert len(state["Log"]) == 5 and len(state["Log"][0]["Output"]) == 4096


def test_failures_in_the_start_period_do_not_count() -> None:
    config = {"Test": ["CMD", "x"], "Retries": 1, "StartPeriod": 10 * S}
    state = {"Status": "starting", "FailingStreak": 0, "Log": []}
    state = health.record(state, config, _entry(1), started_at=100.0, probe_start=105.0)
    assert (state["Status"], state["FailingStreak"]) == ("starting", 0)
    state = health.record(state, config, _entry(1), 100.0, 111.0)
    assert state["Status"] == "unhealthy"


def test_state_file_and_views(tmp_path: Path) -> None:
    assert health.read_state(tmp_path) is None
    health.reset(tmp_path)
    assert health.view(health.read_state(tmp_path), running=True) == {
        "Status": "starting", "FailingStreak": 0, "Log": []}
    health.write_state(tmp_path, {"Status": "healthy", "FailingStreak": 0, "Log": [_entry(0)]})
    health.reset(tmp_path)  # a new start: starting again, the log kept
    state = health.read_state(tmp_path)
    assert state is not None and state["Status"] == "starting" and len(state["Log"]) == 1
    assert health.view(state, running=False)["Status"] == "unhealthy"  # type: ignore[index]
    assert health.status_suffix(state) == " (health: starting)"
    assert health.status_suffix({"Status": "healthy"}) == " (healthy)"
    assert health.status_suffix(None) == ""
    assert [p.name for p in tmp_path.iterdir()] == ["health.json"]
