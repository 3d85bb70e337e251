"""Docker-like per-layer progress lines: redrawn in place on a terminal, status changes otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

BAR_WIDTH = 50


def human(n: float) -> str:
    """Docker's progress sizes: 1.23MB (decimal units)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1000
    return f"{n:.3g}GB"


def bar(current: int, total: int) -> str:
    if total <= 0:
        return human(current)
    filled = min(BAR_WIDTH, int(BAR_WIDTH * current / total))
    arrow = ">" if filled < BAR_WIDTH else ""
    return (
        f"[{'=' * filled}{arrow}{' ' * (BAR_WIDTH - filled - len(arrow))}] "
        f"{human(current)}/{human(total)}"
    )


class Progress:
    """Lines keyed by layer ID; thread-safe. `quiet` prints nothing."""

    def __init__(
        self, out: TextIO | None = None, tty: bool | None = None, quiet: bool = False
    ) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.quiet = quiet
        self._keys: list[str] = []
        self._status: dict[str, str] = {}
        self._last_draw: dict[str, float] = {}
        self._lock = threading.Lock()

    def message(self, text: str) -> None:
        if self.quiet:
            return
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()

    def status(self, key: str, text: str) -> None:
        """Set a layer's status ("Pulling fs layer", "Download complete", ...)."""
        self._set(key, text, force=True)

    def advance(self, key: str, action: str, current: int, total: int) -> None:
        """A progress bar for a layer (drawn on terminals only, at most 10 times a second)."""
        if not self.tty:
            return
        self._set(key, f"{action} {bar(current, total)}", force=current >= total)

    def _set(self, key: str, text: str, force: bool) -> None:
        if self.quiet:
            return
        with self._lock:
            now = time.monotonic()
            if not force and now - self._last_draw.get(key, 0.0) < 0.1:
                return
            self._last_draw[key] = now
            new = key not in self._status
            if new:
                self._keys.append(key)
            previous = self._status.get(key)
            self._status[key] = text
            line = f"{key}: {text}"
            if not self.tty:
                if previous != text:
                    self.out.write(line + "\n")
            elif new:
                self.out.write(line + "\n")
            else:
                up = len(self._keys) - self._keys.index(key)
                self.out.write(f"\x1b[{up}A\r\x1b[2K{line}\x1b[{up}B\r")
            self.out.flush()
