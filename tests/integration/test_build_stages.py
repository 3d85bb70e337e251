"""Multi-stage builds: what a stage built on another stage inherits (BuildKit's rules)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.dybuild import Dockyard, _context

pytestmark = pytest.mark.integration


INHERIT = """\
FROM busybox AS base
ARG VERSION=1.0
ARG UNSET
RUN echo "base $VERSION" > /base.txt

FROM base AS child
ARG EXTRA=x
ARG VERSION
RUN echo "$VERSION $EXTRA" > /child.txt
"""


def test_stage_on_stage_inherits_args_into_run_and_history(dy: Dockyard, tmp_path: Path) -> None:
    ctx = _context(tmp_path, INHERIT)
    dy.build(ctx, "-t", "inherit:1", "--build-arg", "VERSION=2.5")
    assert dy.read_file("inherit:1", "/child.txt") == b"2.5 x\n"
    runs = [h.get("created_by", "") for h in dy.config("inherit:1")["history"]
            if h.get("created_by", "").startswith("RUN ")]  # fmt: skip
    # BuildKit: the base stage's ARGs first (in order), then the stage's own; a re-declared
    # ARG keeps its first place; an ARG without a value is listed by name only.
    assert runs == [
        'RUN |2 VERSION=2.5 UNSET= /bin/sh -c echo "base $VERSION" > /base.txt # buildkit',
        'RUN |3 VERSION=2.5 UNSET= EXTRA=x /bin/sh -c echo "$VERSION $EXTRA" > /child.txt'
        " # buildkit",
    ]
