"""Keep big buffers' memory in the process between uses (glibc malloc tuning for streaming work).

A pull or push moves hundreds of megabytes through 1-4 MiB bytes objects (socket reads,
inflated pieces, file reads). glibc gives each such buffer fresh pages (mmap, or a heap it
trims as soon as a few megabytes are free), so every piece costs page faults and zeroing:
about 75,000 faults for the 500 MB bench image, a sixth of the pull on these VMs, whose
memory the host backs only when first touched. With the thresholds raised once per process,
freed buffers are reused instead; the process keeps at most TRIM bytes of free heap.
"""

from __future__ import annotations

MMAP_THRESHOLD = 32 << 20  # buffers below this come from the heap (glibc's own maximum)
TRIM = 128 << 20  # free heap kept before it is returned to the system
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def reuse_big_buffers() -> None:
    """Raise malloc's mmap and trim thresholds once (a no-op without glibc)."""
    global _done
    if _done:
        return
    _done = True
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc: its allocator is left as it is
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, TRIM)
