"""HEALTHCHECK as Docker runs it: the settings (image + `--health-*`), the state file, probe results.

The settings are Docker's HealthConfig shape (Test, Interval, Timeout, StartPeriod,
StartInterval, Retries; durations in nanoseconds). The state lives in the container's
directory as `health.json` ({Status, FailingStreak, Log}), replaced atomically by the one
process that writes it while the container runs (runtime/healthmon.py).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument

STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"
STATE_FILE = "health.json"
MAX_LOG_ENTRIES = 5  # Docker keeps the last five probe results
MAX_OUTPUT = 4096  # and at most this many bytes of each probe's output
NS = 1_000_000_000
DEFAULTS = {"Interval": 30 * NS, "Timeout": 30 * NS, "StartPeriod": 0, "StartInterval": 5 * NS,
            "Retries": 3}  # fmt: skip
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": NS, "m": 60 * NS, "h": 3600 * NS}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: str, flag: str) -> int:
    """A Go duration ("1s", "1m30s", "500ms", "0") in nanoseconds; negative is refused."""
    text = value.strip()
    if text in ("0", "-0", "+0"):
        return 0
    body = text.lstrip("+-")
    pos, total = 0, 0.0
    for m in _PART.finditer(body):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not body or pos != len(body):
        raise InvalidArgument(f'invalid argument "{value}" for "{flag}" flag: time: invalid duration "{value}"',
                              hint="use a duration such as 30s, 1m30s or 500ms")  # fmt: skip
    if text.startswith("-") and total:
        raise InvalidArgument(f"{flag} cannot be negative", hint="use a positive duration")
    return int(total)


def from_flags(cmd: str | None, interval: str | None, timeout: str | None, start_period: str | None,
               start_interval: str | None, retries: int | None, disabled: bool) -> dict[str, Any] | None:  # fmt: skip
    """`--health-*` / `--no-healthcheck` as a HealthConfig override (None: the image's applies)."""
    given = [cmd, interval, timeout, start_period, start_interval, retries]
    have = any(v is not None and v != "" for v in given)
    if disabled:
        if have:
            raise InvalidArgument("--no-healthcheck conflicts with --health-* options",
                                  hint="drop one of them")  # fmt: skip
        return {"Test": ["NONE"]}
    if not have:
        return None
    if retries is not None and retries < 0:
        raise InvalidArgument("--health-retries cannot be negative", hint="use 0 or more")
    out: dict[str, Any] = {}
    if cmd:
        out["Test"] = ["CMD-SHELL", cmd]
    for key, flag, text in (("Interval", "--health-interval", interval),
                            ("Timeout", "--health-timeout", timeout),
                            ("StartPeriod", "--health-start-period", start_period),
                            ("StartInterval", "--health-start-interval", start_interval)):  # fmt: skip
        if text:
            out[key] = parse_duration(text, flag)
    if retries:
        out["Retries"] = retries
    return out


def merge(image: dict[str, Any] | None, override: dict[str, Any] | None) -> dict[str, Any] | None:
    """The container's HealthConfig: the override's fields where set, else the image's (Docker's
    merge); None when there is none at all."""
    if override is None:
        return dict(image) if image else None
    out = dict(override)
    for key, value in (image or {}).items():  # field by field, as Docker's merge
        if not out.get(key):
            out[key] = value
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
        value = out.get(key) or 0
        if not isinstance(value, int) or value < 0:
            raise InvalidArgument(f"{key} in Healthcheck cannot be negative", hint="use a positive duration")
        if 0 < value < 1_000_000 and key != "StartPeriod":
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms", hint="use 1ms or more")
    return out or None


def enabled(config: dict[str, Any] | None) -> bool:
    test = (config or {}).get("Test") or []
    return bool(test) and test[0] in ("CMD", "CMD-SHELL")


def setting(config: dict[str, Any], key: str) -> int:
    """A duration or count with Docker's default where unset (0)."""
    return int(config.get(key) or DEFAULTS[key])


def probe_args(config: dict[str, Any], shell: list[str] | None) -> list[str]:
    """The command a probe runs: CMD's words, or CMD-SHELL's text through the image's SHELL."""
    test = list(config["Test"])
    if test[0] == "CMD-SHELL":
        return [*(shell or ["/bin/sh", "-c"]), " ".join(test[1:])]
    return test[1:]


# -- the state file -------------------------------------------------------------------------
def read_state(container_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((container_dir / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_state(container_dir: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically (readers see the old or the new one, never half)."""
    tmp = container_dir / f".{STATE_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(state))
    os.replace(tmp, container_dir / STATE_FILE)


def reset(container_dir: Path) -> None:
    """At every start: `starting`, no failing streak, the log of earlier runs kept (as Docker)."""
    old = read_state(container_dir) or {}
    write_state(container_dir, {"Status": STARTING, "FailingStreak": 0, "Log": old.get("Log") or []})


def view(state: dict[str, Any] | None, running: bool) -> dict[str, Any] | None:
    """`.State.Health` for inspect: once the container has stopped, Docker says unhealthy."""
    if state is None:
        return None
    out = {"Status": state.get("Status", STARTING), "FailingStreak": int(state.get("FailingStreak", 0)),
           "Log": list(state.get("Log") or [])}  # fmt: skip
    if not running:
        out["Status"] = UNHEALTHY
    return out


def status_suffix(state: dict[str, Any] | None) -> str:
    """What `ps` adds to "Up 5 seconds": " (healthy)", " (unhealthy)", " (health: starting)"."""
    if state is None:
        return ""
    status = state.get("Status", STARTING)
    return " (health: starting)" if status == STARTING else f" ({status})"


def record(state: dict[str, Any], config: dict[str, Any], entry: dict[str, Any],
           started_at: float, probe_start: float) -> dict[str, Any]:  # fmt: skip
    """The state after one probe (Docker's rules): exit 0 is healthy and clears the streak; a
    failure adds to the streak (not while still starting inside the start period), and
    `Retries` failures in a row make it unhealthy."""
    log = [*(state.get("Log") or []), entry][-MAX_LOG_ENTRIES:]
    status, streak = state.get("Status", STARTING), int(state.get("FailingStreak", 0))
    if entry["ExitCode"] == 0:
        status, streak = HEALTHY, 0
    else:
        grace = status == STARTING and probe_start - started_at < setting(config, "StartPeriod") / NS
        if not grace:
            streak += 1
            if streak >= setting(config, "Retries"):
                status = UNHEALTHY
    return {"Status": status, "FailingStreak": streak, "Log": log}


def log_entry(start: float, end: float, code: int, output: bytes) -> dict[str, Any]:
    from dockyard.runtime.inspect import iso

    return {"Start": iso(start), "End": iso(end), "ExitCode": code,
            "Output": output[:MAX_OUTPUT].decode(errors="replace")}  # fmt: skip


def next_wait(state: dict[str, Any], config: dict[str, Any], started_at: float) -> float:
    """Seconds until the next probe: StartInterval while starting inside the start period."""
    in_start = (state.get("Status", STARTING) == STARTING
                and time.time() - started_at < setting(config, "StartPeriod") / NS)  # fmt: skip
    key = "StartInterval" if in_start else "Interval"
    return setting(config, key) / NS
