"""conmon, as Podman uses it: it runs `runtime create`, holds stdio, writes the log, records exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from dockyard.errors import Unavailable
from dockyard.records import FrozenRecord
from dockyard.runtime.oci_runtime import OciRuntime, runtime_failure


class MonitorPaths(FrozenRecord):
    """Where conmon keeps one container's files (all under the container's directory)."""

    def __init__(
        self, bundle: Path,
        log: Path,  # k8s-file format: "<RFC3339Nano> stdout|stderr F|P <text>"
        pid_file: Path, conmon_pid_file: Path, exit_dir: Path, runtime_log: Path, socket_dir: Path,
    ) -> None:  # fmt: skip
        self.bundle = bundle
        self.log = log
        self.pid_file = pid_file
        self.conmon_pid_file = conmon_pid_file
        self.exit_dir = exit_dir
        self.runtime_log = runtime_log
        self.socket_dir = socket_dir

    @classmethod
    def for_container(cls, container_dir: Path) -> MonitorPaths:
        return cls(
            bundle=container_dir,
            log=container_dir / "ctr.log",
            pid_file=container_dir / "pidfile",
            conmon_pid_file=container_dir / "conmon.pid",
            exit_dir=container_dir / "exits",
            runtime_log=container_dir / "oci-log",
            socket_dir=container_dir / "sockets",
        )

    def exit_file(self, cid: str) -> Path:
        return self.exit_dir / cid


def conmon_path() -> str:
    path = shutil.which("conmon") or ("/usr/bin/conmon" if os.path.exists("/usr/bin/conmon") else None)
    if not path:
        raise Unavailable("conmon is not installed", hint="apt-get install conmon")
    return path


def start_monitor(
    runtime: OciRuntime,
    cid: str,
    name: str,
    paths: MonitorPaths,
    *,
    tty: bool,
    stdin_open: bool,
    exit_command: list[str] | None = None,
) -> int:
    """Start conmon for a container and wait until `runtime create` is done; the container's pid.

    conmon forks itself away (it outlives this process), keeps the container's stdio, writes
    the log and, when the container exits, its exit code to `exit_dir/<cid>`, then runs
    `exit_command`.
    """
    paths.exit_dir.mkdir(parents=True, exist_ok=True)
    paths.socket_dir.mkdir(parents=True, exist_ok=True)
    for stale in (paths.exit_file(cid), paths.pid_file, paths.runtime_log):
        stale.unlink(missing_ok=True)
    args = [
        conmon_path(), "--api-version", "1", "-c", cid, "-u", cid, "-r", runtime.path,
        "-b", str(paths.bundle), "-p", str(paths.pid_file), "-n", name,
        "--exit-dir", str(paths.exit_dir), "-l", f"k8s-file:{paths.log}",
        "--log-level", "warning", "--conmon-pidfile", str(paths.conmon_pid_file),
        "--socket-dir-path", str(paths.socket_dir), "--full-attach",
        "--runtime-arg", "--root", "--runtime-arg", str(runtime.state_root),
        "--runtime-arg", "--log-format=json",
        "--runtime-arg", "--log", "--runtime-arg", str(paths.runtime_log),
    ]  # fmt: skip
    if tty:
        args.append("-t")
    if stdin_open:
        args += ["-i", "--leave-stdin-open"]
    if exit_command:
        args += ["--exit-command", exit_command[0]]
        for arg in exit_command[1:]:
            args += ["--exit-command-arg", arg]
    read_fd, write_fd = os.pipe()
    env = dict(os.environ, _OCI_SYNCPIPE=str(write_fd))
    try:
        proc = subprocess.Popen(
            args, pass_fds=(write_fd,), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, "rb") as sync:
        data = sync.readline()  # conmon keeps the pipe; the first line is the create result
    _out, err = proc.communicate()
    message = _parse_sync(data)
    if message is None:
        raise Unavailable(f"conmon failed to start the container: {err.decode(errors='replace').strip()}")
    pid, text = message
    if pid <= 0:
        raise runtime_failure(text or "conmon reported an error")
    return pid


def _parse_sync(data: bytes) -> tuple[int, str] | None:
    for line in data.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "data" in msg:
            return int(msg["data"]), str(msg.get("message", ""))
    return None


def read_exit_code(paths: MonitorPaths, cid: str) -> int | None:
    """The exit code conmon recorded, or None while the container still runs."""
    try:
        text = paths.exit_file(cid).read_text().strip()
    except FileNotFoundError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def conmon_pid(paths: MonitorPaths) -> int | None:
    try:
        return int(paths.conmon_pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def conmon_alive(paths: MonitorPaths) -> bool:
    """Whether the conmon that watches this container still runs (pid file + its cmdline)."""
    pid = conmon_pid(paths)
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"conmon" in fh.read().split(b"\0", 1)[0]
    except OSError:
        return False
