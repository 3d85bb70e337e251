"""The container engine: ties the store (rootfs), the runtime (runc + conmon) and CNI together."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.engine import networks as netengine
from dockyard.engine.container_queries import ContainerQueries
from dockyard.engine.container_setup import ContainerSetup
from dockyard.engine.requests import CreateRequest, opts_json, requested_ports
from dockyard.engine.rootfs import ImageInfo as ImageInfo  # re-exported for ImageSource users
from dockyard.engine.rootfs import ImageSource, StoreImages, snapshot_key
from dockyard.errors import Conflict, DockyardError, NotFound
from dockyard.runtime import bundle, health, monitor, rootless
from dockyard.runtime.containers import (
    CREATED,
    EXITED,
    REMOVING,
    RUNNING,
    Container,
    ContainerRecords,
    check_name,
    now,
)  # fmt: skip
from dockyard.runtime.oci_runtime import OciRuntime
from dockyard.runtime.requests import RestartPolicy, parse_restart
from dockyard.store.db import Database
from dockyard.store.locking import file_lock

if TYPE_CHECKING:  # imported where used, to keep `run` lean
    from dockyard.network.networks import NetworkStore
    from dockyard.runtime.volumes import Volumes


def default_hostname(given: str | None, network: str, cid: str) -> str:
    """Docker's: the --hostname, else the host's own name on the host network, else the short ID."""
    if given:
        return given
    return os.uname().nodename if network == "host" else cid[:12]

class ContainerEngine(ContainerSetup, ContainerQueries):
    """Container operations over one store root; every CLI container command calls only this."""

    def __init__(self, root: Path, runtime: str | None = None, images: ImageSource | None = None) -> None:
        self.root = Path(root).absolute()
        if images is None:
            from dockyard.store import Store

            store = Store(self.root)
            self.db: Database = store.db
            images = StoreImages(store)
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            self.db = Database(self.root / "metadata.db")
        self.images = images
        self.records = ContainerRecords(self.db, self.root)
        self._held: set[str] = set()
        self.runtime = OciRuntime.probe(self.root / "runtime" / "runc", runtime)

    @cached_property
    def networks(self) -> NetworkStore:
        from dockyard.network.networks import NetworkStore

        self.db.ensure()  # its table, if this connection opened before the module loaded
        return NetworkStore(self.db, self.root)

    @cached_property
    def volumes(self) -> Volumes:
        from dockyard.runtime.volumes import Volumes

        self.db.ensure()
        return Volumes(self.db, self.root)

    # -- helpers -------------------------------------------------------------------------
    def dir(self, c: Container) -> Path:
        return self.records.container_dir(c.id)

    @contextmanager
    def _locked(self, c: Container) -> Iterator[None]:
        """The container's lock (an flock, so across processes); re-entrant in this engine."""
        if c.id in self._held:
            yield
            return
        with file_lock(self.root / "containers" / f"{c.id}.lock"):
            self._held.add(c.id)
            try:
                yield
            finally:
                self._held.discard(c.id)

    def get(self, ref: str) -> Container:
        return self._with_health(self.refresh(self.records.get(ref)))

    def _with_health(self, c: Container) -> Container:
        """`c` with its HEALTHCHECK state (`.health`, Docker's State.Health) read in."""
        if health.enabled(c.config.get("healthcheck")):
            c.health = health.view(health.read_state(self.dir(c)), c.state == RUNNING)
        return c

    def _paths(self, c: Container) -> monitor.MonitorPaths:
        return monitor.MonitorPaths.for_container(self.dir(c))

    # -- create --------------------------------------------------------------------------
    def create(self, req: CreateRequest) -> Container:
        info = self.images.resolve(req.image)
        name = check_name(req.name) if req.name else self.records.random_name()
        if rootless.active():  # rootless hook: no CNI networks, no -p (runtime/rootless.py)
            rootless.check_network(req.network, bool(req.publish or req.publish_all))
        if req.network not in netengine.SPECIAL:
            netengine.validate_mode(self.networks, req.network)
        requested, exposed = requested_ports(req, info)
        restart = parse_restart(req.restart)
        if req.auto_remove and restart.name != "no":
            raise Conflict("conflicting options: cannot specify both --restart and --rm",
                           hint="drop one of them")  # fmt: skip
        opts = req.options
        for m in opts.mounts:
            if m.kind == "volume":
                vol = self.volumes.create(m.name, anonymous=m.name is None)
                m.name, m.source = vol.name, str(vol.mountpoint)
        entry = opts.entrypoint if opts.entrypoint is not None else info.config.get("Entrypoint")
        cmd = opts.command or (None if opts.entrypoint is not None else info.config.get("Cmd"))
        args = bundle.resolve_args(info.config, opts)
        cid = self.records.new_id()
        c = Container(cid, name, req.image, info.id, now(), CREATED, config={
            "args": args, "entrypoint": list(entry) if entry else None,
            "cmd": list(cmd) if cmd else None, "image_config": info.config,
            "options": opts_json(opts), "network_mode": req.network,
            "requested_ports": [m.to_json() for m in requested], "exposed": exposed,
            "publish_all": req.publish_all, "restart": restart.to_json(),
            "auto_remove": req.auto_remove, "detach": req.detach,
            "hostname": default_hostname(opts.hostname, req.network, cid), "labels": dict(opts.labels),
            "stop_signal": info.config.get("StopSignal") or "SIGTERM",
            "workdir": opts.workdir or info.config.get("WorkingDir") or "",
            "runtime": self.runtime.name, "env": [], "image_arch": info.architecture,
            "healthcheck": health.merge(info.config.get("Healthcheck"), req.healthcheck),
            "aliases": netengine.aliases_for(req.network, req.aliases),
        })  # fmt: skip
        self.records.insert(c)
        try:
            self.dir(c).mkdir(parents=True, exist_ok=True)
            self.images.prepare(snapshot_key(cid), info.id)
        except BaseException:
            self._remove_files(c)
            raise
        return c

    # -- start ---------------------------------------------------------------------------
    def start(self, ref: str | Container) -> Container:
        """Start a created or exited container detached under conmon."""
        c = ref if isinstance(ref, Container) else self.get(ref)
        with self._locked(c):
            c = self._start_locked(c.id)
        if netengine.on_user_network(c):
            netengine.refresh_hosts(self.networks, self.records)
        return c

    def _start_locked(self, cid: str) -> Container:
        """`start` with the container's lock held."""
        c = self.refresh(self.records.get(cid))
        if c.state == RUNNING:
            return c
        self._teardown(c)  # leftovers of a previous run (nothing for a new container)
        c.config.pop("stopped_by_user", None)
        exit_cmd = [sys.executable, "-m", "dockyard.cli.main", "--root", str(self.root),
                    "container", "cleanup", c.id]  # fmt: skip
        opts = c.config["options"]

        def create() -> int:  # conmon runs `runtime create` while CNI sets the network up
            return monitor.start_monitor(
                self.runtime, c.id, c.name, self._paths(c), tty=opts["tty"],
                stdin_open=opts["interactive"], exit_command=exit_cmd,
            )  # fmt: skip

        try:
            pid = self._setup(c, overlap=create)
            self.runtime.start(c.id)
        except DockyardError as exc:
            self._teardown(c)
            c.config["error"] = exc.message
            self.records.update(c, exit_code=exc.exit_code)
            raise
        c.config["mode"] = "conmon"
        c.config.pop("error", None)
        self.records.update(c, state=RUNNING, pid=pid, started_at=now(), exit_code=0,
                            finished_at=None)  # fmt: skip
        self._start_health(c, pid)
        return c

    def _start_health(self, c: Container, watch_pid: int) -> None:
        """The HEALTHCHECK monitor, if the container has one (it ends with the container)."""
        config = c.config.get("healthcheck")
        if config and health.enabled(config):
            from dockyard.runtime import healthmon

            shell = c.config["image_config"].get("Shell")
            healthmon.spawn(self.dir(c), self.runtime, c.id, watch_pid, c.started_at or now(),
                            config, shell)  # fmt: skip

    def run_attached(self, c: Container) -> int:
        """Foreground `run`: the runtime attached to our stdio; signals forwarded; exit code."""
        with self._locked(c):
            self._setup(c)
            cdir = self.dir(c)
            c.config["mode"] = "foreground"
            c.config["runner_pid"] = os.getpid()
            self.records.update(c, state=RUNNING, started_at=now())
        if netengine.on_user_network(c):
            netengine.refresh_hosts(self.networks, self.records)
        code: int | None = None
        try:
            opts = c.config["options"]
            code = self.runtime.run_foreground(
                c.id, cdir, cdir / "oci-log", stdin_open=opts["interactive"] or opts["tty"],
                on_started=lambda pid: self._start_health(c, pid), output_log=self._paths(c).log,
            )  # fmt: skip
        except DockyardError as exc:
            c.config["error"] = exc.message
            code = exc.exit_code
            raise
        finally:
            with self._locked(c):
                if c.config.get("auto_remove"):  # straight to removal: no exited record first
                    self._teardown(c, also=lambda: self._remove_files(c))
                else:
                    self._teardown(c)
                    self.records.update(c, state=EXITED, finished_at=now(), pid=0,
                                        exit_code=code if code is not None else 125)  # fmt: skip
            if c.config.get("auto_remove"):
                (self.root / "containers" / f"{c.id}.lock").unlink(missing_ok=True)
        return code

    # -- state ---------------------------------------------------------------------------
    def _exit_code(self, c: Container) -> int | None:
        """The exit code if the container has stopped, None while it runs (no exec needed:
        conmon writes the exit file before it exits; a foreground CLI records the code)."""
        if c.config.get("mode") == "conmon":
            paths = self._paths(c)
            code = monitor.read_exit_code(paths, c.id)
            if code is not None:
                return code
            if monitor.conmon_alive(paths):
                return None
            state = self.runtime.state(c.id)  # conmon is gone without an exit file
            if state is not None and state.get("status") in ("running", "created", "paused"):
                return None
            return 137
        runner = c.config.get("runner_pid")
        if runner and _alive(runner):
            return None  # the foreground CLI records the code itself
        state = self.runtime.state(c.id)
        if state is not None and state.get("status") in ("running", "created", "paused"):
            return None
        return 137

    def refresh(self, c: Container) -> Container:
        """Bring a `running` record up to date (and release its resources if it has exited)."""
        if c.state != RUNNING:
            return c
        code = self._exit_code(c)
        if code is None:
            return c
        with self._locked(c):
            fresh = self.records.get(c.id)
            if fresh.state != RUNNING:
                return fresh
            self._teardown(fresh)
            self.records.update(fresh, state=EXITED, exit_code=code, finished_at=now(), pid=0)
            return fresh

    def cleanup(self, ref: str) -> None:
        """conmon's exit command: release resources, then --rm or the restart policy.

        Restarts wait as Docker's do: 100 ms, doubling with every restart (at most a minute);
        a `stop`, `kill` or `rm` meanwhile cancels the restart.
        """
        try:
            c = self.get(ref)
        except NotFound:
            return
        if c.state == RUNNING:
            return
        if c.config.get("auto_remove"):
            with suppress(NotFound):
                self.remove(c.id, force=True)
            return
        policy = RestartPolicy(**c.config.get("restart", {}))
        if not policy.should_restart(c.exit_code, c.restart_count, c.config.get("stopped_by_user", False)):
            return
        time.sleep(min(0.1 * 2**c.restart_count, 60.0))
        with suppress(NotFound), self._locked(c):  # `stop` decides under the same lock
            fresh = self.records.get(c.id)
            if fresh.state != EXITED or fresh.config.get("stopped_by_user"):
                return
            self.records.update(fresh, restart_count=fresh.restart_count + 1)
            with suppress(DockyardError):
                self._start_locked(fresh.id)

    def wait(self, ref: str, poll: float = 0.05) -> int:
        c = self.get(ref)
        while c.state in (RUNNING,):
            time.sleep(poll)
            c = self.refresh(self.records.get(c.id))
        return c.exit_code

    def _wait_exit(self, c: Container, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._exit_code(c) is not None:
                return True
            time.sleep(0.02)
        return False

    # -- stop / kill / remove ------------------------------------------------------------
    def stop(self, ref: str, timeout: float | None = None) -> Container:
        c = self._mark_stopped(self.get(ref))  # also cancels a pending restart
        if c.state != RUNNING:
            return c
        self.runtime.kill(c.id, c.config.get("stop_signal", "SIGTERM"))
        wait_for = 10.0 if timeout is None else timeout
        if not self._wait_exit(c, wait_for):
            self.runtime.kill(c.id, "KILL", all_processes=True)
            self._wait_exit(c, 10.0)
        return self.refresh(self.records.get(c.id))

    def _mark_stopped(self, c: Container) -> Container:
        """Record that the user stopped the container (no restart policy applies now)."""
        with self._locked(c):
            fresh = self.refresh(self.records.get(c.id))
            if fresh.state in (RUNNING, EXITED) and not fresh.config.get("stopped_by_user"):
                fresh.config["stopped_by_user"] = True
                self.records.update(fresh)
        return fresh

    def kill(self, ref: str, signal: str = "KILL") -> Container:
        import signal as signals

        c = self.get(ref)
        if c.state != RUNNING:
            raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running",
                           hint="start it first")  # fmt: skip
        sig = signal.upper()
        if not sig.isdigit() and not sig.startswith("SIG"):
            sig = "SIG" + sig
        if not sig.isdigit() and not hasattr(signals, sig):
            raise Conflict(f"invalid signal: {signal}", hint="use a name like TERM or a number")
        c = self._mark_stopped(c)
        self.runtime.kill(c.id, sig)
        if sig in ("SIGKILL", "9"):
            self._wait_exit(c, 5.0)
        return self.refresh(self.records.get(c.id))

    def rename(self, ref: str, name: str) -> Container:
        """`docker rename`: a new name; peers on user-defined networks see it in /etc/hosts."""
        c = self.records.get(ref)
        with self._locked(c):
            c = self.records.rename(self.records.get(c.id), name)
        if c.state == RUNNING and netengine.on_user_network(c):
            netengine.refresh_hosts(self.networks, self.records)
        return c

    def restart(self, ref: str, timeout: float | None = None) -> Container:
        self.stop(ref, timeout)
        return self.start(ref)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> Container:
        c = self.get(ref)
        if c.state == RUNNING:
            if not force:
                raise Conflict(
                    f'cannot remove container "/{c.name}": container is running: stop the'
                    " container before removing or force remove",
                    hint=f"use `dockyard rm -f {c.name}` or `dockyard stop {c.name}` first",
                )
            c = self._mark_stopped(c)
            self.runtime.kill(c.id, "KILL", all_processes=True)
            self._wait_exit(c, 10.0)
            c = self.refresh(self.records.get(c.id))
        with self._locked(c):
            with suppress(Conflict):
                self.records.update(c, state=REMOVING)
            self._teardown(c)
            self._remove_files(c)
        if volumes:
            for m in c.config["options"].get("mounts", []):
                if m["kind"] == "volume" and m.get("name") and len(m["name"]) == 64:
                    with suppress(DockyardError):
                        self.volumes.remove(m["name"], [])
        (self.root / "containers" / f"{c.id}.lock").unlink(missing_ok=True)
        return c

    def _remove_files(self, c: Container) -> None:
        with suppress(DockyardError, OSError):
            self.images.remove(snapshot_key(c.id))
        shutil.rmtree(self.dir(c), ignore_errors=True)
        self.records.delete(c.id)

    def prune(self) -> list[str]:
        gone = []
        for c in self.list(all_=True):
            if c.state != RUNNING:
                self.remove(c.id)
                gone.append(c.id)
        return gone

    # -- queries -------------------------------------------------------------------------
    def list(self, all_: bool = False) -> list[Container]:
        out = []
        for c in self.records.list():
            with suppress(NotFound):  # removed meanwhile (an exit command's --rm)
                out.append(self._with_health(self.refresh(c)))
        return out if all_ else [c for c in out if c.state == RUNNING]


def containers_using_image(db: Database, image_id: str) -> list[str]:
    """IDs of containers (any state) created from an image (for `rmi` without -f)."""
    try:
        rows = db.query("SELECT id FROM containers WHERE image_id = ?", (image_id,))
    except sqlite3.OperationalError:  # no container was ever made in this store
        return []
    return [r["id"] for r in rows]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
