"""Facts about the host that `version` and `info` report (CLI and Engine API alike)."""

from __future__ import annotations

import subprocess


def os_name() -> str:
    """PRETTY_NAME from /etc/os-release, or "Linux"."""
    try:
        with open("/etc/os-release") as fh:
            for line in fh:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def mem_total() -> int:
    """Total memory in bytes (0 when /proc/meminfo cannot be read)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def tool_version(path: str) -> str:
    """The first line `PATH --version` prints, or "unknown"."""
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"
