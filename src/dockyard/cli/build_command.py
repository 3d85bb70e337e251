"""`dockyard build` without click: its options as data and the build itself.

cmd_build.py makes the click command of these; cli/entry.py calls `build` directly when it can
parse the arguments, so a no-change rebuild does not pay for importing click.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from dockyard.cli.optspec import FLAG, MULTI, Opt
from dockyard.errors import InvalidArgument

BUILD_OPTS: list[Opt] = [
    Opt(("-t", "--tag"), "tags", MULTI, "Name and optionally a tag."),
    Opt(("-f", "--file"), "file", help="Name of the Dockerfile (- for stdin)."),
    Opt(("--build-arg",), "build_args", MULTI, "Set build-time variables."),
    Opt(("--target",), "target", help="Set the target build stage to build."),
    Opt(("--no-cache",), "no_cache", FLAG, "Do not use cache when building the image."),
    Opt(("--label",), "labels", MULTI, "Set metadata for an image."),
    Opt(("--network",), "network", help="Networking mode for RUN: default (bridge, NAT), host or none.",
        default="default"),
    Opt(("-q", "--quiet"), "quiet", FLAG, "Print only the image ID on success."),
    Opt(("--iidfile",), "iidfile", help="Write the image ID to the file."),
    Opt(("--platform",), "platform", help="Target platform (the host's only)."),
    Opt(("--progress",), "progress", help="Type of progress output.", default="auto",
        choices=("auto", "plain", "tty")),
    Opt(("--check",), "check", FLAG, "Check the Dockerfile without building."),
    Opt(("--secret",), "secrets", MULTI,
        "Secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR."),
]  # fmt: skip


def pairs(values: tuple[str, ...], what: str, from_env: bool) -> dict[str, str]:
    """`KEY=VALUE` items as a dict; a bare `KEY` takes the environment's value (build args)."""
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what} {item!r}", hint=f"use --{what} KEY=VALUE")
        if not sep:
            if not from_env:
                value = ""
            elif key in os.environ:
                value = os.environ[key]
            else:
                continue
        out[key] = value
    return out


def request(path: str, kw: dict[str, Any], runtime: str | None) -> Any:
    """The engine's BuildRequest for `build PATH` with these options (stdin read here)."""
    from dockyard.build.options import BuildOptions
    from dockyard.engine.build import BuildRequest, check_platform

    check_platform(kw["platform"])
    file_opt: str | None = kw["file"]
    if path == "-" and file_opt == "-":
        raise InvalidArgument("invalid argument: can't use stdin for both build context and"
                              " dockerfile", hint="give a context directory")  # fmt: skip
    req = BuildRequest(options=BuildOptions(
        tags=list(kw["tags"]), build_args=pairs(kw["build_args"], "build-arg", True),
        target=kw["target"] or None, no_cache=kw["no_cache"],
        labels=pairs(kw["labels"], "label", False), network=kw["network"],
        platform=kw["platform"], runtime=runtime,
    ))  # fmt: skip
    if kw["secrets"]:
        from dockyard.build.mounts import secret_from_cli

        req.options.secrets = dict(secret_from_cli(v, os.environ) for v in kw["secrets"])
    if file_opt == "-":
        req.dockerfile_text = sys.stdin.read()
    else:
        req.dockerfile = file_opt
    if path == "-":
        req.context_tar = sys.stdin.buffer
    else:
        req.context_dir = Path(path)
    return req


def build(root: Path, req: Any, kw: dict[str, Any]) -> int:
    """Run the build of `req` into the store at `root`; the exit code."""
    from dockyard.build.progress import Progress
    from dockyard.dockerfile.errors import DockerfileSyntaxError
    from dockyard.engine.build import build as run_build
    from dockyard.store import Store

    mode = "quiet" if kw["quiet"] else kw["progress"]
    try:
        result = run_build(Store(root), req, Progress(mode))
    except DockerfileSyntaxError as exc:
        from dockyard.cli.dockerfile_errors import report_syntax_error

        report_syntax_error(exc)  # file:line:column, the line, a caret and what was expected
        return exc.exit_code
    if kw["iidfile"]:
        Path(kw["iidfile"]).write_text(result.image_id)
    if kw["quiet"]:
        sys.stdout.write(result.image_id + "\n")
    return 0
