"""`dockyard pull` and `push` without click: their options as data and the transfers themselves.

cmd_registry.py makes the click commands of these; cli/entry.py calls them directly when it can
parse the arguments, so a push or pull does not pay for importing click.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dockyard.cli.optspec import FLAG, MULTI, Opt

INSECURE = Opt(("--insecure-registry",), "insecure", MULTI,
               "Allow plain HTTP / unverified TLS for this registry (repeatable).")  # fmt: skip
PULL_OPTS: list[Opt] = [
    Opt(("-a", "--all-tags"), "all_tags", FLAG, "Download all tagged images."),
    Opt(("--platform",), "platform", help="Platform os/arch[/variant] (default: host)."),
    Opt(("-q", "--quiet"), "quiet", FLAG, "Print only the image reference."),
    INSECURE,
]
PUSH_OPTS: list[Opt] = [
    Opt(("-a", "--all-tags"), "all_tags", FLAG, "Push all tags of the repository."),
    Opt(("-q", "--quiet"), "quiet", FLAG, "Suppress verbose output."),
    INSECURE,
    Opt(("--chunk-size",), "chunk_size", help="Upload layers in chunks of this many bytes.", type=int),
]


def _options(insecure: tuple[str, ...]) -> Any:
    from dockyard.transports.registry.client import load_options

    return load_options(insecure)


def _progress(quiet: bool) -> Any:
    from dockyard.transports.registry.progress import Progress

    return Progress(sys.stdout, quiet=quiet)


def pull(root: Path, ref: str, kw: dict[str, Any]) -> int:
    """`dockyard pull REF`: download into the store at `root`, print Docker's closing lines."""
    from dockyard.engine import registry as engine
    from dockyard.store import Store

    with Store(root) as store:
        result = engine.pull(store, ref, platform=kw["platform"], all_tags=kw["all_tags"],
                             options=_options(kw["insecure"]), progress=_progress(kw["quiet"]))  # fmt: skip
    for line in result.lines:
        sys.stdout.write(line + "\n")
    return 0


def push(root: Path, ref: str, kw: dict[str, Any]) -> int:
    """`dockyard push REF`: upload from the store at `root` (Docker's progress and digest line)."""
    from dockyard.engine import registry as engine
    from dockyard.store import Store

    with Store(root) as store:
        engine.push(store, ref, all_tags=kw["all_tags"], options=_options(kw["insecure"]),
                    progress=_progress(kw["quiet"]), chunk_size=kw["chunk_size"])  # fmt: skip
    return 0
