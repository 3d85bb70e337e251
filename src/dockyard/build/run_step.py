"""RUN: a one-shot container on the step's root filesystem, run by the OCI runtime (runc).

The bundle's config.json comes from dockyard.runtime.bundle (the stage's ENV, ARGs, USER,
WORKDIR); networking is the default CNI bridge with outbound NAT, the host's, or none.
Output (stdout and stderr together) streams to a callback as it comes.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import DockyardError
from dockyard.store.snapshots import rmtree

if TYPE_CHECKING:
    from dockyard.store import Store

HOSTNAME = "buildkitsandbox"
_DEFAULT_NETWORK = threading.Lock()
_teardowns: list[tuple[threading.Thread, list[BaseException]]] = []
_teardowns_lock = threading.Lock()
_prewarmed: list[_Prewarmed] = []  # networks attached ahead of the RUN steps that will take them


@dataclass
class RunRequest:
    args: list[str]
    env: list[str]
    user: str = ""
    workdir: str = "/"
    network: str = "default"  # default | bridge | host | none
    files: list[tuple[str, bytes]] = field(default_factory=list)  # mounted at /dev/pipes/NAME
    mounts: list[dict[str, Any]] = field(default_factory=list)  # RUN --mount (runtime form)


class RunFailed(DockyardError):
    """A RUN step's command exited non-zero (exit_code is dockyard's: 1)."""

    code = "build_run_failed"
    exit_code = 1

    def __init__(self, message: str, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


def _attach_network(store: Store, cid: str, mode: str, stack: ExitStack) -> str | None:
    """The netns path for `mode` (None for host); undone when `stack` closes (the step's
    deferred teardown, see `wait_teardowns`)."""
    if mode == "host":
        return None
    from dockyard.network import cni

    name = f"dybuild-{cid[:12]}"
    path = cni.create_netns(name)
    stack.callback(cni.delete_netns, name)
    cni.loopback_up(path, cid)
    if mode == "none":
        return path
    from dockyard.network.networks import NetworkStore

    store.db.ensure()
    networks = NetworkStore(store.db, store.root)
    with _DEFAULT_NETWORK:  # parallel stages: create the default network once
        net = networks.ensure_default()
    conflist = networks.conflist(net)
    rc: dict[str, Any] = {"portMappings": []}
    result = cni.add(conflist, container_id=cid, netns=path, ifname="eth0", runtime_config=rc)
    stack.callback(
        lambda: cni.delete(conflist, container_id=cid, netns=path, ifname="eth0",
                           runtime_config=rc, prev_result=result)  # fmt: skip
    )
    return path


class _Prewarmed:
    """A RUN step's network (netns + CNI ADD: ~25 ms of plugin execs) attached on a thread while
    the build does the steps before it; the first RUN step of that store and mode takes it."""

    def __init__(self, root: Path, mode: str) -> None:
        self.root = root
        self.mode = mode
        self.cid = "build-" + os.urandom(12).hex()
        self.teardown = ExitStack()
        self.netns: str | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._attach, name="build-network")
        self.thread.start()

    def _attach(self) -> None:
        from dockyard.store import Store

        try:
            with Store(self.root) as store:  # (its own connection: this is another thread)
                self.netns = _attach_network(store, self.cid, self.mode, self.teardown)
        except BaseException as exc:  # the step then attaches its network itself
            self.error = exc


def prewarm(store: Store, mode: str) -> None:
    """Start attaching a network for a RUN step to come (`mode` as network_mode gives it);
    `wait_teardowns` undoes it if no step took it."""
    if mode != "default":  # host: nothing to attach; none: a bare netns, quick enough
        return
    with _teardowns_lock:
        if any(p.root == store.root and p.mode == mode for p in _prewarmed):
            return
        _prewarmed.append(_Prewarmed(store.root, mode))


def _take_prewarmed(store: Store, mode: str) -> _Prewarmed | None:
    """The network attached ahead for this store and mode, once ready; None if there is none
    (or attaching it failed: the step then attaches its own, and reports any error)."""
    with _teardowns_lock:
        found = next((p for p in _prewarmed if p.root == store.root and p.mode == mode), None)
        if found is not None:
            _prewarmed.remove(found)
    if found is None:
        return None
    found.thread.join()
    if found.error is not None:
        found.teardown.close()
        return None
    return found


def _spec(rootfs: Path, bundle_dir: Path, req: RunRequest, netns: str | None) -> dict[str, Any]:
    from dockyard.runtime import bundle
    from dockyard.runtime.bundle import RunOptions

    image_cfg = {"Env": req.env, "User": req.user, "WorkingDir": req.workdir or "/"}
    opts = RunOptions(entrypoint=list(req.args), command=[])
    spec = bundle.build_spec(
        image_cfg, opts, rootfs=rootfs, container_dir=bundle_dir, hostname=HOSTNAME,
        netns_path=netns, host_network=req.network == "host",
    )  # fmt: skip
    pipes = bundle_dir / "pipes"
    for name, data in req.files:
        pipes.mkdir(exist_ok=True)
        (pipes / name).write_bytes(data)
        os.chmod(pipes / name, 0o755)
        spec["mounts"].append({"destination": f"/dev/pipes/{name}", "type": "bind",
                               "source": str(pipes / name), "options": ["rbind", "ro"]})  # fmt: skip
    spec["mounts"].extend(req.mounts)
    return spec


def run(
    store: Store, rootfs: Path, req: RunRequest, on_output: Callable[[bytes], None],
    runtime_name: str | None = None, cancel: threading.Event | None = None,
) -> list[tuple[str, int, int, int, int]]:  # fmt: skip
    """Run `req` in `rootfs` (mounted, writable); RunFailed when it exits non-zero. Setting
    `cancel` (another stage failed) kills the step's processes. Returns the directories overlay
    may have copied up only for mount points (for LayerWork.prunable)."""
    from dockyard.runtime.oci_runtime import OciRuntime

    runtime = OciRuntime.probe(store.root / "runtime" / "runc", runtime_name)
    # What does not touch the step's files (runc's state, the network, the bundle) is undone
    # after the step, on a thread, while the layer is committed; at once if the step failed.
    ready = _take_prewarmed(store, req.network)
    if ready is not None:
        cid, teardown, netns = ready.cid, ready.teardown, ready.netns
    else:
        cid, teardown, netns = "build-" + os.urandom(12).hex(), ExitStack(), None
    bundle_dir = store.tmpdir("build-run-")
    teardown.callback(rmtree, bundle_dir)
    try:
        if ready is None:
            netns = _attach_network(store, cid, req.network, teardown)
        prunable = _run(store, rootfs, req, on_output, runtime, cid, bundle_dir, teardown, netns,
                        cancel)  # fmt: skip
    except BaseException:
        teardown.close()
        raise
    _tear_down_later(teardown)
    return prunable


def _run(
    store: Store, rootfs: Path, req: RunRequest, on_output: Callable[[bytes], None],
    runtime: Any, cid: str, bundle_dir: Path, teardown: ExitStack, netns: str | None,
    cancel: threading.Event | None,
) -> list[tuple[str, int, int, int, int]]:  # fmt: skip
    from dockyard.build import stubs
    from dockyard.runtime import bundle
    from dockyard.runtime.oci_runtime import _read_error_log

    with ExitStack() as stack:
        bundle.write_etc_files(bundle_dir, HOSTNAME, None, req.network == "host")
        spec = _spec(rootfs, bundle_dir, req, netns)
        created = stubs.find(rootfs, spec["mounts"])
        stack.callback(stubs.remove, rootfs, created)
        bundle.write_config(bundle_dir, spec)
        log = bundle_dir / "runtime.log"
        cmd = runtime.base(log) + ["run", "--bundle", str(bundle_dir), cid]
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        finished = threading.Event()
        if cancel is not None:
            watcher = threading.Thread(target=_watch, args=(runtime, cid, cancel, finished),
                                       daemon=True)  # fmt: skip
            watcher.start()
        try:
            assert proc.stdout is not None
            while chunk := os.read(proc.stdout.fileno(), 65536):
                on_output(chunk)
            status = proc.wait()
        except BaseException:
            with suppress(DockyardError, OSError):
                runtime.kill(cid, "KILL", all_processes=True)
            proc.kill()
            proc.wait()
            _delete_quietly(runtime, cid)  # gone before the stubs are removed from its root
            raise
        finally:
            finished.set()
            teardown.callback(_delete_quietly, runtime, cid)  # first when `teardown` closes
        if status != 0:
            error = _read_error_log(log)
            if error:
                raise RunFailed(f"failed to run the command: {error.strip()}", 127)
            raise RunFailed(f"process {_shown(req.args)} did not complete successfully:"
                            f" exit code: {status}", status)  # fmt: skip
    return stubs.prunable(created)


def _delete_quietly(runtime: Any, cid: str) -> None:
    with suppress(DockyardError, OSError):
        runtime.delete(cid, force=True)


def _tear_down_later(teardown: ExitStack) -> None:
    """Close `teardown` on a thread; `wait_teardowns` joins it (and raises what it raised)."""
    errors: list[BaseException] = []

    def close() -> None:
        try:
            teardown.close()
        except BaseException as exc:  # re-raised by wait_teardowns, in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=close, name="build-run-teardown")
    with _teardowns_lock:
        _teardowns.append((thread, errors))
    thread.start()


def wait_teardowns() -> None:
    """Wait for every RUN step's deferred teardown (runc delete, network, bundle dir); the
    build calls this before it returns, so nothing is left behind when the process exits."""
    with _teardowns_lock:
        pending = list(_teardowns)
        _teardowns.clear()
        unused = list(_prewarmed)  # attached for a step that did not run (or hit the cache)
        _prewarmed.clear()
    for prepared in unused:
        prepared.thread.join()
        _tear_down_later(prepared.teardown)
    with _teardowns_lock:
        pending += _teardowns
        _teardowns.clear()
    errors: list[BaseException] = []
    for thread, errs in pending:
        thread.join()
        errors.extend(errs)
    if errors:
        raise errors[0]


def _watch(runtime: Any, cid: str, cancel: threading.Event, finished: threading.Event) -> None:
    while not finished.is_set():
        if cancel.wait(0.1):
            if not finished.is_set():
                with suppress(DockyardError, OSError):
                    runtime.kill(cid, "KILL", all_processes=True)
            return


def _shown(args: list[str]) -> str:
    return '"' + " ".join(args) + '"'
