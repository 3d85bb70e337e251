"""The health monitor: one small detached process per running container with a HEALTHCHECK.

`spawn` starts it when the container starts (no daemon: it lives exactly as long as the
container). It sleeps the probe interval on a pidfd of the process whose end means the
container has stopped, so it exits at once with the container; each probe runs the test
through `runtime exec` and rewrites the container's `health.json` atomically.

    python -m dockyard.runtime.healthmon CONTAINER_DIR
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dockyard.runtime import health
from dockyard.runtime.oci_runtime import OciRuntime

SETTINGS = "health-monitor.json"
PID_FILE = "health-monitor.pid"
PROCESS_FILE = "health-exec.json"


def spawn(container_dir: Path, runtime: OciRuntime, cid: str, watch_pid: int, started_at: float,
          config: dict[str, Any], shell: list[str] | None) -> int:  # fmt: skip
    """Write the monitor's settings and probe process.json, start it detached; its pid.

    `watch_pid` is a host process that ends when the container does (its init under conmon,
    or the foreground `runtime run`).
    """
    from dockyard.runtime import bundle

    stop(container_dir)  # a monitor of an earlier run of this container
    base = json.loads((container_dir / "config.json").read_text())
    proc = bundle.process_spec(base, health.probe_args(config, shell), rootfs=container_dir / "rootfs",
                               env=[], workdir=None, user=None, tty=False)  # fmt: skip
    (container_dir / PROCESS_FILE).write_text(json.dumps(proc))
    settings = {"runtime": runtime.name, "runtime_path": runtime.path,
                "state_root": str(runtime.state_root), "cid": cid, "watch_pid": watch_pid,
                "started_at": started_at, "config": config}  # fmt: skip
    (container_dir / SETTINGS).write_text(json.dumps(settings))
    health.reset(container_dir)
    child = subprocess.Popen(
        [sys.executable, "-m", "dockyard.runtime.healthmon", str(container_dir)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, cwd="/",
    )  # fmt: skip
    (container_dir / PID_FILE).write_text(str(child.pid))
    return child.pid


def _is_monitor(pid: int, container_dir: Path) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
    except OSError:
        return False
    return b"dockyard.runtime.healthmon" in args and str(container_dir).encode() in args


def stop(container_dir: Path) -> None:
    """End the container's monitor if one still runs (it normally ends with the container)."""
    try:
        pid = int((container_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return
    if _is_monitor(pid, container_dir):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    (container_dir / PID_FILE).unlink(missing_ok=True)


def _ended(pidfd: int, wait: float) -> bool:
    ready, _, _ = select.select([pidfd], [], [], max(wait, 0.0))
    return bool(ready)


def run(container_dir: Path) -> None:
    """The monitor's loop: wait an interval (or the container's end), probe, record."""
    settings = json.loads((container_dir / SETTINGS).read_text())
    runtime = OciRuntime(settings["runtime"], settings["runtime_path"], Path(settings["state_root"]))
    config, started_at, cid = settings["config"], float(settings["started_at"]), settings["cid"]
    timeout = health.setting(config, "Timeout") / health.NS
    try:
        pidfd = os.pidfd_open(int(settings["watch_pid"]))
    except OSError:  # the container has already gone
        return
    state = health.read_state(container_dir) or {"Status": health.STARTING, "FailingStreak": 0, "Log": []}
    while not _ended(pidfd, health.next_wait(state, config, started_at)):
        start = time.time()
        code, output = runtime.exec_capture(cid, container_dir / PROCESS_FILE, timeout)
        if _ended(pidfd, 0):  # it stopped meanwhile: the probe says nothing about its health
            return
        entry = health.log_entry(start, time.time(), code, output)
        state = health.record(state, config, entry, started_at, start)
        try:
            health.write_state(container_dir, state)
        except FileNotFoundError:  # the container was removed
            return


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m dockyard.runtime.healthmon CONTAINER_DIR", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        run(Path(argv[0]))
    except (FileNotFoundError, KeyboardInterrupt):
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
