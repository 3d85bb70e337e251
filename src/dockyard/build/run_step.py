"""RUN: a one-shot container on the step's root filesystem, run by the OCI runtime (runc).

The bundle's config.json comes from dockyard.runtime.bundle (the stage's ENV, ARGs, USER,
WORKDIR); networking is the default CNI bridge with outbound NAT, the host's, or none.
Output (stdout and stderr together) streams to a callback as it comes.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.errors import DockyardError

if TYPE_CHECKING:
    from dockyard.store import Store

HOSTNAME = "buildkitsandbox"
_DEFAULT_NETWORK = threading.Lock()


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
    """The netns path for `mode` (None for host); undone when `stack` closes."""
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
    from dockyard.build import stubs
    from dockyard.runtime import bundle
    from dockyard.runtime.oci_runtime import OciRuntime, _read_error_log

    runtime = OciRuntime.probe(store.root / "runtime" / "runc", runtime_name)
    cid = "build-" + secrets.token_hex(12)
    bundle_dir = store.tmpdir("build-run-")
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, bundle_dir, True)
        netns = _attach_network(store, cid, req.network, stack)
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
            raise
        finally:
            finished.set()
            with suppress(DockyardError, OSError):
                runtime.delete(cid, force=True)
        if status != 0:
            error = _read_error_log(log)
            if error:
                raise RunFailed(f"failed to run the command: {error.strip()}", 127)
            raise RunFailed(f"process {_shown(req.args)} did not complete successfully:"
                            f" exit code: {status}", status)  # fmt: skip
    return stubs.prunable(created)


def _watch(runtime: Any, cid: str, cancel: threading.Event, finished: threading.Event) -> None:
    while not finished.is_set():
        if cancel.wait(0.1):
            if not finished.is_set():
                with suppress(DockyardError, OSError):
                    runtime.kill(cid, "KILL", all_processes=True)
            return


def _shown(args: list[str]) -> str:
    return '"' + " ".join(args) + '"'
