"""Read-side container operations of the engine: inspect, ports, logs, exec, top, volume users."""

from __future__ import annotations

import builtins
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, NotFound
from dockyard.runtime import bundle
from dockyard.runtime.containers import RUNNING, Container

if TYPE_CHECKING:
    from dockyard.network.ports import PortMapping
    from dockyard.runtime import logs
    from dockyard.runtime.containers import ContainerRecords
    from dockyard.runtime.monitor import MonitorPaths
    from dockyard.runtime.oci_runtime import OciRuntime


class ContainerQueries:
    """Mixed into ContainerEngine (which provides what is declared below)."""

    if TYPE_CHECKING:
        runtime: OciRuntime
        records: ContainerRecords

        def get(self, ref: str) -> Container: ...
        def dir(self, c: Container) -> Path: ...
        def _paths(self, c: Container) -> MonitorPaths: ...
        def _exit_code(self, c: Container) -> int | None: ...

    def inspect(self, ref: str) -> dict[str, Any]:
        from dockyard.runtime.inspect import inspect as inspect_json

        c = self.get(ref)
        return inspect_json(c, str(self.dir(c)))

    def ports(self, ref: str) -> builtins.list[PortMapping]:
        from dockyard.network.ports import PortMapping

        c = self.get(ref)
        return [PortMapping.from_json(p) for p in c.config.get("ports", [])] if c.state == RUNNING else []

    def log_size(self, ref: str) -> int:
        """How long the container's log is now (where `logs(after=...)` starts reading)."""
        path = self._paths(self.get(ref)).log
        return path.stat().st_size if path.exists() else 0

    def logs(self, ref: str, *, follow: bool = False, tail: int | None = None,
             since: float | None = None, after: int | None = None) -> Iterator[logs.LogEntry]:  # fmt: skip
        """The container's log entries; with `after` (a `log_size`) only the ones written since,
        followed until the container stops (`start -a`)."""
        from dockyard.runtime import logs

        c = self.get(ref)
        path = self._paths(c).log
        if after is not None:
            yield from logs.follow(path, after, lambda: self._still_running(c.id))
            return
        entries = logs.read_entries(path)
        yield from logs.select(entries, tail, since)
        if follow and c.state == RUNNING:
            offset = path.stat().st_size if path.exists() else 0
            yield from logs.follow(path, offset, lambda: self._exit_code(c) is None)

    def _still_running(self, cid: str) -> bool:
        try:
            return self.get(cid).state == RUNNING
        except NotFound:  # removed on exit (--rm)
            return False

    def exec(self, ref: str, cmd: builtins.list[str], *, env: builtins.list[str], workdir: str | None,
             user: str | None, tty: bool, interactive: bool, detach: bool) -> int:  # fmt: skip
        c = self.get(ref)
        if c.state != RUNNING:
            raise Conflict(f"container {c.id} is not running", hint=f"start it: dockyard start {c.name}")
        if not cmd:
            raise Conflict("no command specified for exec", hint="dockyard exec NAME COMMAND")
        cdir = self.dir(c)
        base = json.loads((cdir / "config.json").read_text())
        proc = bundle.process_spec(base, cmd, rootfs=cdir / "rootfs", env=env, workdir=workdir,
                                   user=user, tty=tty)  # fmt: skip
        pfile = cdir / f"exec-{os.getpid()}-{time.monotonic_ns()}.json"
        pfile.write_text(json.dumps(proc))
        try:
            return self.runtime.exec(c.id, pfile, pfile.with_suffix(".log"), tty=tty,
                                     detach=detach, stdin_open=interactive or tty)  # fmt: skip
        finally:
            pfile.unlink(missing_ok=True)
            pfile.with_suffix(".log").unlink(missing_ok=True)

    def top(self, ref: str) -> str:
        c = self.get(ref)
        if c.state != RUNNING:
            raise Conflict(f"container {c.id} is not running", hint=f"start it: dockyard start {c.name}")
        pids = self.runtime.pids(c.id)
        if not pids:
            return "UID PID PPID C STIME TTY TIME CMD\n"
        import subprocess

        out = subprocess.run(["ps", "-o", "uid,pid,ppid,c,stime,tty,time,cmd", "-p",
                              ",".join(map(str, pids))], capture_output=True, text=True)  # fmt: skip
        return out.stdout

    def users_of_volume(self, name: str) -> builtins.list[str]:
        return [c.id for c in self.records.list()
                if any(m.get("name") == name for m in c.config["options"].get("mounts", []))]  # fmt: skip
