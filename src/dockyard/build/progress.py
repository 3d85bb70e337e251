"""Build progress in Docker's words: BuildKit's plain format (`#N ...`) or a compact tty view."""

from __future__ import annotations

import sys
import time
from _thread import allocate_lock  # (threading itself is not needed on a no-change build)
from typing import TextIO

MODES = ("auto", "plain", "tty", "quiet")


class Vertex:
    """One numbered step of the output."""

    def __init__(self, progress: Progress, number: int, name: str) -> None:
        self.progress = progress
        self.number = number
        self.name = name
        self.started = time.monotonic()
        self._partial = b""
        self.output = bytearray()  # everything the step printed (kept for error reports)

    def log(self, data: bytes) -> None:
        self.output += data
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self.progress.log_line(self, line.rstrip(b"\r").decode(errors="replace"))

    def _flush(self) -> None:
        if self._partial:
            self.progress.log_line(self, self._partial.decode(errors="replace"))
            self._partial = b""

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def note(self, text: str) -> None:
        self.progress.note(self, text)

    def cached(self) -> None:
        self.progress.finish(self, "CACHED")

    def done(self) -> None:
        self._flush()
        self.progress.finish(self, "DONE")

    def canceled(self) -> None:
        self._flush()
        self.progress.finish(self, "CANCELED")

    def error(self, message: str) -> None:
        self._flush()
        self.progress.finish(self, "ERROR", message)


class Progress:
    """Writes step progress to `out` (stderr by default) in `mode` plain, tty or quiet."""

    def __init__(self, mode: str = "auto", out: TextIO | None = None) -> None:
        self.out = out or sys.stderr
        if mode == "auto":
            mode = "tty" if self.out.isatty() else "plain"
        self.mode = mode
        self.count = 0
        self.started = time.monotonic()
        self.lock = allocate_lock()
        self.steps: list[tuple[str, str, float]] = []

    def _write(self, text: str) -> None:
        if self.mode == "quiet":
            return
        with self.lock:
            self.out.write(text)
            self.out.flush()

    def vertex(self, name: str) -> Vertex:
        with self.lock:  # stages may start steps from several threads
            self.count += 1
            vertex = Vertex(self, self.count, name)
        if self.mode == "plain":
            self._write(f"#{vertex.number} {name}\n")
        return vertex

    def log_line(self, vertex: Vertex, line: str) -> None:
        if self.mode == "plain":
            self._write(f"#{vertex.number} {vertex.elapsed():.3f} {line}\n")
        elif self.mode == "tty":
            self._write(f"\x1b[2m#{vertex.number} {vertex.elapsed():5.2f} {line}\x1b[0m\n")

    def note(self, vertex: Vertex, text: str) -> None:
        if self.mode == "plain":
            self._write(f"#{vertex.number} {text}\n")

    def finish(self, vertex: Vertex, state: str, message: str = "") -> None:
        took = vertex.elapsed()
        self.steps.append((vertex.name, state, took))
        if self.mode == "plain":
            if state == "CACHED":
                self._write(f"#{vertex.number} CACHED\n\n")
            elif state == "ERROR":
                self._write(f"#{vertex.number} ERROR: {message}\n\n")
            elif state == "CANCELED":
                self._write(f"#{vertex.number} CANCELED\n\n")
            else:
                self._write(f"#{vertex.number} DONE {took:.1f}s\n\n")
        elif self.mode == "tty":
            prefix = "CACHED " if state == "CACHED" else ("ERROR " if state == "ERROR" else "")
            color = "\x1b[31m" if state == "ERROR" else "\x1b[34m"
            shown = prefix + vertex.name
            self._write(f"{color} => {shown:<60} {took:5.1f}s\x1b[0m\n")
            if message:
                self._write(f"\x1b[31m => ERROR: {message}\x1b[0m\n")

    def header(self) -> None:
        if self.mode == "tty":
            self._write("[+] Building\n")

    def summary(self, ok: bool) -> None:
        if self.mode == "tty":
            took = time.monotonic() - self.started
            state = "FINISHED" if ok else "FAILED"
            self._write(f"[+] Building {took:.1f}s ({len(self.steps)}/{len(self.steps)}) {state}\n")

    def failure_report(self, label: str, output: bytes, location: str, lines: list[str],
                       message: str) -> None:  # fmt: skip
        """BuildKit's error box: the step's last output lines and the Dockerfile excerpt."""
        if self.mode == "quiet":
            out = sys.stderr
        else:
            out = self.out
        tail = output.decode(errors="replace").splitlines()[-10:]
        text = ["------", f" > {label}:"]
        text += [f"{line}" for line in tail]
        text.append("------")
        if location:
            text.append(location)
            text.append("--------------------")
            text.extend(lines)
            text.append("--------------------")
        with self.lock:
            out.write("\n".join(text) + "\n")
            out.flush()
