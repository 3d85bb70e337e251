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


def _pump(proc: subprocess.Popen[bytes], writer: Any) -> None:
    """Copy the child's stdout/stderr to ours (fds 1 and 2) and to `writer` until both close."""
    import selectors

    sel = selectors.DefaultSelector()
    echo = {"stdout": 1, "stderr": 2}
    for stream, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        assert pipe is not None
        sel.register(pipe, selectors.EVENT_READ, stream)
    while sel.get_map():
        for key, _ in sel.select():
            data = os.read(key.fd, 65536)
            if not data:
                sel.unregister(key.fileobj)
                continue
            stream = key.data
            writer.write(stream, data)
            fd = echo.get(stream)
            if fd is None:
                continue
            try:
                while data:
                    data = data[os.write(fd, data):]
            except OSError:  # our reader went away (a closed pipe): keep logging only
                echo.pop(stream)
    sel.close()


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
        self, cid: str, bundle: Path, log: Path, *, stdin_open: bool, on_started: Any = None,
        output_log: Path | None = None,
    ) -> int:  # fmt: skip
        """`runtime run` attached to our stdio; signals we get go to the container. Exit code back.

        With `output_log`, the container's stdout and stderr pass through this process, which
        copies them to ours and appends them to that k8s-file log (what `logs` reads).
        """
        log.unlink(missing_ok=True)
        pipe = subprocess.PIPE if output_log is not None else None
        proc = subprocess.Popen(
            self.base(log) + ["run", "--bundle", str(bundle), cid],
            stdin=None if stdin_open else subprocess.DEVNULL, stdout=pipe, stderr=pipe,
        )  # fmt: skip

        def forward(signum: int, _frame: Any) -> None:
            try:
                proc.send_signal(signum)
            except ProcessLookupError:
                pass

        forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2)  # fmt: skip
        old = {s: signal.signal(s, forward) for s in forwarded}
        writer = None
        try:
            if on_started is not None:
                on_started(proc.pid)
            if output_log is not None:
                from dockyard.runtime.logs import LogWriter

                writer = LogWriter(output_log)
                _pump(proc, writer)
            while True:
                try:
                    rc = proc.wait()
                    break
                except InterruptedError:
                    continue
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            if writer is not None:
                writer.close()
        err = _read_error_log(log)
        if rc != 0 and err is not None:
            if writer is not None:  # the command never ran: runc's own words are no container log
                with open(writer.path, "r+b") as fh:
                    fh.truncate(writer.start)
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
        if proc.returncode != 0 and all_processes:
            # rootless: --all needs the container's cgroup, which it has not got; its own pid
            # namespace ends with its first process, so that one signal reaches them all.
            proc = self._run(["kill", cid, str(sig)], f"kill {cid}", check=False)
        return proc.returncode == 0

    def pause(self, cid: str) -> None:
        """Freeze every process of the container (its cgroup's freezer)."""
        self._run(["pause", cid], f"pause {cid}")

    def resume(self, cid: str) -> None:
        self._run(["resume", cid], f"resume {cid}")

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

    def exec_capture(self, cid: str, process_file: Path, timeout: float) -> tuple[int, bytes]:
        """`runtime exec` with stdout and stderr captured together (a health probe).

        Past `timeout` the process is killed (through the pid the runtime wrote) and the
        result is (-1, a message), as Docker reports a probe that timed out.
        """
        log, pid_file = process_file.with_suffix(".log"), process_file.with_suffix(".pid")
        log.unlink(missing_ok=True)
        pid_file.unlink(missing_ok=True)
        proc = subprocess.Popen(
            self.base(log) + ["exec", "--process", str(process_file), "--pid-file", str(pid_file), cid],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
            proc.kill()
            proc.communicate()
            return -1, f"Health check exceeded timeout ({timeout:g}s)".encode()
        err = _read_error_log(log) if proc.returncode != 0 else None
        if err is not None and not out:
            out = f"OCI runtime exec failed: {err}".encode()
        return proc.returncode, out

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
