"""The only module that executes the OCI runtime (runc or crun): create/start/run/state/kill/delete/exec."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from dockyard.errors import DockyardError, InvalidArgument, NotFound, Unavailable

RUNTIMES = ("runc", "crun")


class CommandNotFound(DockyardError):
    """The container's command does not exist in the image (docker's exit code 127)."""

    code = "command_not_found"
    exit_code = 127


class CommandNotInvokable(DockyardError):
    """The container's command exists but cannot be executed (docker's exit code 126)."""

    code = "command_not_invokable"
    exit_code = 126


def runtime_failure(message: str) -> DockyardError:
    """Turn a runtime's error text into docker's error kind and message."""
    text = message.strip().rstrip(":").strip()
    full = f"failed to create task for container: OCI runtime create failed: {text}: unknown"
    if "executable file not found" in text or "no such file or directory" in text:
        return CommandNotFound(full, hint="check the command exists in the image and is on PATH")
    if "permission denied" in text or "is a directory" in text or "exec format error" in text:
        return CommandNotInvokable(full, hint="check the command is an executable file")
    return Unavailable(full)


def _read_error_log(path: Path) -> str | None:
    """The last error a runtime wrote with --log-format json, if any."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return None
    errors = []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("level") in ("error", "fatal"):
            errors.append(entry.get("msg", ""))
    return errors[-1] if errors else None


class OciRuntime:
    """One OCI runtime binary with its own state directory (`--root`, per dockyard store)."""

    def __init__(self, name: str, path: str, state_root: Path) -> None:
        self.name = name
        self.path = path
        self.state_root = state_root

    @classmethod
    def probe(cls, state_root: Path, choice: str | None = None) -> OciRuntime:
        """`choice` (a name or a path) or the first runtime that works here: runc, then crun.

        crun 1.8 refuses hybrid cgroup layouts (v1 plus a cgroup2 tree), which is why runc
        comes first; `--runtime crun` still picks it where it works.
        """
        candidates = [choice] if choice else list(RUNTIMES)
        for cand in candidates:
            path = cand if "/" in cand else shutil.which(cand)
            if path and os.access(path, os.X_OK):
                return cls(os.path.basename(cand), path, state_root)
        if choice:
            raise InvalidArgument(
                f"OCI runtime {choice!r} not found", hint="install runc, or pass --runtime runc"
            )
        raise Unavailable("no OCI runtime found (runc or crun)", hint="apt-get install runc")

    def base(self, log: Path | None = None) -> list[str]:
        args = [self.path, "--root", str(self.state_root)]
        if log is not None:
            args += ["--log-format", "json", "--log", str(log)]
        return args

    def _run(self, args: list[str], what: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self.base() + args, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if check and proc.returncode != 0:
            msg = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
            if "does not exist" in msg or "not found" in msg:
                raise NotFound(f"{self.name} {what}: {msg}")
            raise Unavailable(f"{self.name} {what} failed: {msg}")
        return proc

    def run_foreground(
        self, cid: str, bundle: Path, log: Path, *, stdin_open: bool, on_started: Any = None
    ) -> int:
        """`runtime run` attached to our stdio; signals we get go to the container. Exit code back."""
        log.unlink(missing_ok=True)
        proc = subprocess.Popen(
            self.base(log) + ["run", "--bundle", str(bundle), cid],
            stdin=None if stdin_open else subprocess.DEVNULL,
        )

        def forward(signum: int, _frame: Any) -> None:
            try:
                proc.send_signal(signum)
            except ProcessLookupError:
                pass

        forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2)  # fmt: skip
        old = {s: signal.signal(s, forward) for s in forwarded}
        try:
            if on_started is not None:
                on_started(proc.pid)
            while True:
                try:
                    rc = proc.wait()
                    break
                except InterruptedError:
                    continue
        finally:
            for s, h in old.items():
                signal.signal(s, h)
        err = _read_error_log(log)
        if rc != 0 and err is not None:
            exc = runtime_failure(err)
            exc.reported = True  # type: ignore[attr-defined]  # runc printed it on our stderr
            raise exc
        return rc

    def create(self, cid: str, bundle: Path, pid_file: Path, log: Path) -> None:
        log.unlink(missing_ok=True)
        proc = subprocess.run(
            self.base(log) + ["create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if proc.returncode != 0:
            raise runtime_failure(_read_error_log(log) or "create failed")

    def start(self, cid: str) -> None:
        self._run(["start", cid], f"start {cid}")

    def state(self, cid: str) -> dict[str, Any] | None:
        """The runtime's state JSON (status created/running/stopped, pid), or None if unknown."""
        proc = self._run(["state", cid], f"state {cid}", check=False)
        if proc.returncode != 0:
            return None
        try:
            return dict(json.loads(proc.stdout))
        except json.JSONDecodeError:
            return None

    def kill(self, cid: str, sig: str | int = "TERM", all_processes: bool = False) -> bool:
        """Send a signal; False if the container is not running any more."""
        args = ["kill"] + (["--all"] if all_processes else []) + [cid, str(sig)]
        proc = self._run(args, f"kill {cid}", check=False)
        return proc.returncode == 0

    def delete(self, cid: str, force: bool = False) -> None:
        self._run(["delete"] + (["--force"] if force else []) + [cid], f"delete {cid}", check=False)

    def pids(self, cid: str) -> list[int]:
        proc = self._run(["ps", "--format", "json", cid], f"ps {cid}", check=False)
        if proc.returncode != 0:
            return []
        try:
            return [int(p) for p in json.loads(proc.stdout) or []]
        except (json.JSONDecodeError, ValueError):
            return []

    def exec(
        self, cid: str, process_file: Path, log: Path, *, tty: bool, detach: bool, stdin_open: bool
    ) -> int:
        """`runtime exec` attached to our stdio (or detached); the command's exit code."""
        log.unlink(missing_ok=True)
        args = self.base(log) + ["exec", "--process", str(process_file)]
        if tty and not detach:
            args.append("--tty")
        if detach:
            args.append("--detach")
        proc = subprocess.Popen(
            args + [cid],
            stdin=None if stdin_open else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if detach else None,
            stderr=subprocess.DEVNULL if detach else None,
        )
        old = signal.signal(signal.SIGINT, lambda s, f: proc.send_signal(s))
        try:
            rc = proc.wait()
        finally:
            signal.signal(signal.SIGINT, old)
        err = _read_error_log(log)
        if rc != 0 and err is not None:
            raise runtime_failure(err)
        return rc
