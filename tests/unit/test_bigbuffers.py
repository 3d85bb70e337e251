"""After reuse_big_buffers(), a big buffer is carved from malloc's heap and its memory stays there
when freed, for the next one (instead of fresh pages for every piece of a pull: ~70,000 page
faults for the 500 MB bench image without it, ~8,000 with it)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import ctypes, sys
from dockyard.bigbuffers import reuse_big_buffers

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
if sys.argv[1] == "tuned":
    reuse_big_buffers()
before = mallinfo2().hblks  # chunks with a mapping of their own (unmapped when freed)
piece = b"x" * (8 << 20)
mapped_alone = mallinfo2().hblks - before
del piece
print(mapped_alone, mallinfo2().fordblks >= 8 << 20)
"""


def probe(mode: str) -> tuple[int, bool]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        pytest.skip(f"no glibc mallinfo2 here: {out.stderr.strip().splitlines()[-1:]}")
    mapped, kept = out.stdout.split()
    return int(mapped), kept == "True"


def test_a_freed_big_buffer_stays_for_the_next() -> None:
    assert probe("plain") == (1, False)  # glibc's default: its own mapping, unmapped when freed
    assert probe("tuned") == (0, True)
