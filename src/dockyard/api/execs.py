"""Exec instances of the API service: `POST /containers/{id}/exec` records, runs them with runc.

Docker keeps exec instances in the daemon's memory; so does the service (`ExecRegistry`).
A started exec is `runc exec` as a child of the service, its stdio on pipes: what it prints
goes to a callback (framed as Docker's multiplexed stream unless it has a TTY), stdin comes
from a reader coroutine (b"" = end of input). Its exit code is recorded for `GET /exec/{id}/json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import signal
import struct
import termios
import threading
import time
import tty
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.api import serialize
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.runtime.containers import RUNNING

KEEP_FINISHED = 256  # finished exec instances remembered (oldest forgotten first)
Writer = Callable[[bytes], None]
Reader = Callable[[], Awaitable[bytes]]  # the next chunk of stdin; b"" at its end


@dataclass
class ExecRecord:
    """One exec instance, as `docker exec` creates it."""

    id: str
    container_id: str
    cmd: list[str]
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    tty: bool = False
    stdin: bool = False
    stdout: bool = True
    stderr: bool = True
    privileged: bool = False
    started: bool = False
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    finished_at: float = 0.0
    pty: int | None = None  # the master end of a TTY exec's terminal, while it runs
    size: tuple[int, int] | None = None  # (height, width) asked for

    def inspect(self) -> dict[str, Any]:
        return {
            "ID": self.id, "Running": self.running, "ExitCode": self.exit_code,
            "ProcessConfig": {"tty": self.tty, "entrypoint": self.cmd[0] if self.cmd else "",
                              "arguments": self.cmd[1:], "privileged": self.privileged,
                              "user": self.user or ""},
            "OpenStdin": self.stdin, "OpenStderr": self.stderr, "OpenStdout": self.stdout,
            "CanRemove": False, "ContainerID": self.container_id, "DetachKeys": "",
            "Pid": self.pid,
        }  # fmt: skip


def _strings(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{key} must be a list of strings", hint="fix the exec request body")
    return list(value)


class ExecRegistry:
    """Exec instances of one service (thread-safe: routes run in worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._execs: dict[str, ExecRecord] = {}
        self.tasks: set[asyncio.Task[Any]] = set()  # detached execs still running

    def create(self, container_id: str, body: dict[str, Any]) -> ExecRecord:
        cmd = _strings(body, "Cmd")
        if not cmd:
            raise InvalidArgument("No exec command specified", hint="give the command to run")
        rec = ExecRecord(
            id=secrets.token_hex(32), container_id=container_id, cmd=cmd,
            env=_strings(body, "Env"), workdir=body.get("WorkingDir") or None,
            user=body.get("User") or None, tty=bool(body.get("Tty")),
            stdin=bool(body.get("AttachStdin")), stdout=bool(body.get("AttachStdout")),
            stderr=bool(body.get("AttachStderr")), privileged=bool(body.get("Privileged")),
        )  # fmt: skip
        with self._lock:
            self._forget_old()
            self._execs[rec.id] = rec
        return rec

    def _forget_old(self) -> None:
        done = sorted((r for r in self._execs.values() if r.exit_code is not None), key=lambda r: r.finished_at)
        for r in done[: max(0, len(done) - KEEP_FINISHED)]:
            del self._execs[r.id]

    def get(self, exec_id: str) -> ExecRecord:
        with self._lock:
            rec = self._execs.get(exec_id)
            if rec is None:
                matches = [r for k, r in self._execs.items() if k.startswith(exec_id)] if exec_id else []
                rec = matches[0] if len(matches) == 1 else None
        if rec is None:
            raise NotFound(f"No such exec instance: {exec_id}", hint="create it with POST /containers/{id}/exec")
        return rec

    def claim(self, exec_id: str) -> ExecRecord:
        """Mark an exec started (it can start once); Conflict if it already has."""
        rec = self.get(exec_id)
        with self._lock:
            if rec.started:
                raise Conflict(f"exec {rec.id} has already been started", hint="create a new exec instance")
            rec.started = True
            rec.running = True
        return rec

    def start_detached(self, rec: ExecRecord, prep: Prepared) -> None:
        """Run a claimed exec with no one attached (call from the event loop)."""
        task = asyncio.get_running_loop().create_task(run(rec, prep, None, None))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def for_container(self, container_id: str) -> list[str]:
        with self._lock:
            return [r.id for r in self._execs.values() if r.container_id == container_id and r.running]


@dataclass
class Prepared:
    """A `runc exec` ready to run: its argv and the files to delete afterwards."""

    argv: list[str]
    process_file: Path
    log: Path


def prepare(eng: Any, rec: ExecRecord) -> Prepared:
    """Check the container runs and write the process.json (blocking: call in a thread)."""
    from dockyard.runtime import bundle

    c = eng.get(rec.container_id)
    if c.state != RUNNING:
        raise Conflict(f"container {c.id} is not running", hint=f"start it: docker start {c.name}")
    cdir = eng.dir(c)
    base = json.loads((cdir / "config.json").read_text())
    proc = bundle.process_spec(base, rec.cmd, rootfs=cdir / "rootfs", env=rec.env,
                               workdir=rec.workdir, user=rec.user, tty=rec.tty)  # fmt: skip
    pfile = cdir / f"exec-{rec.id[:16]}-{time.monotonic_ns()}.json"
    pfile.write_text(json.dumps(proc))
    log = pfile.with_suffix(".log")
    argv = eng.runtime.base(log) + ["exec", "--process", str(pfile)]
    if rec.tty:
        argv.append("--tty")
    return Prepared(argv + [c.id], pfile, log)


def discard(prep: Prepared) -> None:
    """Delete a prepared exec's files (it will not run)."""
    for path in (prep.process_file, prep.log):
        with contextlib.suppress(OSError):
            os.unlink(path)


def exec_failure(log: Path) -> DockyardError | None:
    """What runc logged when it could not start the command (None if it did start)."""
    from dockyard.runtime.oci_runtime import CommandNotFound, CommandNotInvokable, _read_error_log

    text = _read_error_log(log)
    if text is None:
        return None
    message = f"OCI runtime exec failed: {text.strip()}: unknown"
    if "executable file not found" in text or "no such file or directory" in text:
        return CommandNotFound(message)
    if "permission denied" in text or "is a directory" in text:
        return CommandNotInvokable(message)
    return DockyardError(message)


async def _pump(reader: asyncio.StreamReader | None, kind: int, write: Writer) -> None:
    if reader is None:
        return
    while chunk := await reader.read(1 << 16):
        write(serialize.frame(kind, chunk))


async def _feed(proc: asyncio.subprocess.Process, stdin: Reader) -> None:
    assert proc.stdin is not None
    try:
        while True:
            data = await stdin()
            if not data:
                break
            proc.stdin.write(data)
            await proc.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        proc.stdin.close()


async def run(rec: ExecRecord, prep: Prepared, write: Writer | None,
              stdin: Reader | None) -> int:  # fmt: skip
    """Run a prepared exec to its end; its exit code (recorded in `rec` before returning).

    `write` gets the output (None: discard it, as `Detach` does); `stdin` is fed to it.
    """
    out = write or (lambda _data: None)
    code = 126
    try:
        if rec.tty:
            code = await _run_tty(rec, prep, out, stdin if rec.stdin else None)
        else:
            code = await _run_pipes(rec, prep, out, stdin if rec.stdin else None)
        failure = exec_failure(prep.log) if code != 0 else None
        if failure is not None:
            code = failure.exit_code if failure.exit_code in (126, 127) else 126
            text = failure.message.encode() + b"\r\n"
            out(text if rec.tty else serialize.frame(serialize.STDOUT, text))
        return code
    finally:
        rec.exit_code, rec.running, rec.finished_at = code, False, time.time()
        rec.pty = None
        discard(prep)


async def _run_pipes(rec: ExecRecord, prep: Prepared, out: Writer, stdin: Reader | None) -> int:
    """No TTY: stdout and stderr on their own pipes, sent as multiplexed frames."""
    pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
    proc = await asyncio.create_subprocess_exec(
        *prep.argv, stdin=pipe if stdin is not None else null,
        stdout=pipe if rec.stdout else null, stderr=pipe if rec.stderr else null,
        start_new_session=True,
    )  # fmt: skip
    rec.pid = proc.pid
    feeder = asyncio.ensure_future(_feed(proc, stdin)) if stdin is not None else None
    await asyncio.gather(_pump(proc.stdout, serialize.STDOUT, out),
                         _pump(proc.stderr, serialize.STDERR, out))  # fmt: skip
    code = await proc.wait()
    if feeder is not None:
        feeder.cancel()
    return code


async def _run_tty(rec: ExecRecord, prep: Prepared, out: Writer, stdin: Reader | None) -> int:
    """With a TTY: runc copies between the container's terminal and its own stdio, which must
    be a terminal too; that is a pty of ours, whose master end is the raw stream."""
    loop = asyncio.get_running_loop()
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo of what arrives before runc sets it raw itself
    os.set_blocking(master, False)
    done = asyncio.Event()
    try:
        proc = await asyncio.create_subprocess_exec(*prep.argv, stdin=slave, stdout=slave, stderr=slave,
                                                    start_new_session=True)  # fmt: skip
    finally:
        os.close(slave)
    rec.pid, rec.pty = proc.pid, master
    if rec.size is not None:
        resize(rec, *rec.size)

    def readable() -> None:
        try:
            data = os.read(master, 1 << 16)
        except BlockingIOError:
            return
        except OSError:  # EIO: every slave end is closed
            data = b""
        if data:
            out(data)
        else:
            loop.remove_reader(master)
            done.set()

    loop.add_reader(master, readable)
    feeder = asyncio.ensure_future(_feed_fd(master, stdin)) if stdin is not None else None
    try:
        code = await proc.wait()
        await asyncio.wait_for(done.wait(), timeout=5)
    except TimeoutError:
        pass
    finally:
        loop.remove_reader(master)
        if feeder is not None:
            feeder.cancel()
        os.close(master)
    return code


async def _feed_fd(fd: int, stdin: Reader) -> None:
    """Copy stdin into a (non-blocking) pty master."""
    while data := await stdin():
        while data:
            try:
                data = data[os.write(fd, data) :]
            except BlockingIOError:
                await asyncio.sleep(0.01)
            except OSError:
                return


def resize(rec: ExecRecord, height: int, width: int) -> None:
    """Set the exec's terminal size; runc passes it on when it gets SIGWINCH."""
    rec.size = (height, width)
    if rec.pty is None or not rec.running:
        return
    with contextlib.suppress(OSError):
        fcntl.ioctl(rec.pty, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        os.kill(rec.pid, signal.SIGWINCH)
