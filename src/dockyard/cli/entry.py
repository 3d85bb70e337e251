"""The `dockyard` executable: run, build, pull and push it can parse go to the engine, the rest to click.

Importing click and building the command tree costs 30-40 ms on these machines, a third of a
short `dockyard run --rm IMAGE true` or of a no-change rebuild. So the entry first tries the
few global options and a `run`, `build`, `pull` or `push` (also `container run`, `image
build`) with options from the tables of cli/run_command, cli/build_command and
cli/registry_command, parsed by cli/optspec.parse. Whatever it is not sure of (help, version,
an unknown option, a bad value, any other command) goes to click unchanged, which answers as
it always has.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from dockyard.cli.optspec import Opt
from dockyard.errors import DockyardError

ROOT_OPT = Opt(("--root",), "root")  # also accepted after the command name, as in cli/main.py

GLOBAL_VALUES = ("--root", "--runtime")


def error_lines(exc: DockyardError) -> str:
    """The one error line (and its hint) every command prints on stderr."""
    text = f"Error: {exc.message}\n"
    if exc.hint:
        text += f"Hint: {exc.hint}\n"
    return text


def _globals(argv: list[str]) -> tuple[dict[str, Any], list[str]] | None:
    """The root group's options before the command name, and the rest; None if unsure."""
    got: dict[str, Any] = {"--root": None, "--runtime": None, "--debug": False}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        name, eq, value = argv[i].partition("=")
        if name == "--debug" and not eq:
            got["--debug"] = True
            i += 1
        elif name in GLOBAL_VALUES and eq:
            got[name] = value
            i += 1
        elif name in GLOBAL_VALUES and i + 1 < len(argv):
            got[name] = argv[i + 1]
            i += 2
        else:
            return None
    return got, argv[i:]


def _root(value: str | None) -> Path | None:
    from dockyard.paths import default_root

    root = Path(value or os.environ.get("DOCKYARD_ROOT") or default_root())
    if not str(root) or root.exists() and not root.is_dir():
        return None  # click's Path(file_okay=False) says what is wrong
    return root


def _run(rest: list[str]) -> tuple[Any, dict[str, Any]] | None:
    """`run IMAGE [COMMAND...]`: the call to make, or None."""
    from dockyard.cli import optspec, run_command

    got = optspec.parse([*run_command.RUN_OPTS, ROOT_OPT], rest)
    if got is None:
        return None
    kw, positionals = got

    def call(root: Path, runtime: str | None) -> int:
        return run_command.run(root, runtime, positionals[0], positionals[1:], kw)

    return call, kw


def _build(rest: list[str]) -> tuple[Any, dict[str, Any]] | None:
    """`build PATH` (not `--check`, which click's lint glue answers): the call, or None."""
    from dockyard.cli import build_command, optspec

    got = optspec.parse([*build_command.BUILD_OPTS, ROOT_OPT], rest, interspersed=True)
    if got is None or len(got[1]) != 1 or got[0]["check"]:
        return None
    kw, (path,) = got

    def call(root: Path, runtime: str | None) -> int:
        req = build_command.request(path, kw, runtime)
        return build_command.build(root, req, kw)

    return call, kw


def _transfer(name: str) -> Any:
    """`pull REF` or `push REF`: a handler giving the call, or None."""

    def plan(rest: list[str]) -> tuple[Any, dict[str, Any]] | None:
        from dockyard.cli import optspec, registry_command

        opts = registry_command.PULL_OPTS if name == "pull" else registry_command.PUSH_OPTS
        got = optspec.parse([*opts, ROOT_OPT], rest, interspersed=True)
        if got is None or len(got[1]) != 1:
            return None
        kw, (ref,) = got
        fn = registry_command.pull if name == "pull" else registry_command.push
        return (lambda root, _runtime: fn(root, ref, kw)), kw

    return plan


# The commands the fast entry takes, by their words after the global options.
FAST_COMMANDS = {("run",): _run, ("container", "run"): _run, ("build",): _build,
                 ("image", "build"): _build, ("pull",): _transfer("pull"),
                 ("push",): _transfer("push")}  # fmt: skip


def fast(argv: list[str]) -> int | None:
    """Run `argv` without click if it is a command this entry fully understands; else None."""
    parsed = _globals(argv)
    if parsed is None:
        return None
    glob, rest = parsed
    words = 2 if rest[:1] in (["container"], ["image"]) else 1
    handler = FAST_COMMANDS.get(tuple(rest[:words]))
    planned = handler(rest[words:]) if handler is not None else None
    if planned is None:
        return None
    call, kw = planned
    root = _root(kw.pop("root") or glob["--root"])
    if root is None:
        return None
    if glob["--debug"]:
        os.environ["DOCKYARD_DEBUG"] = "1"
    try:
        return int(call(root, glob["--runtime"]))
    except DockyardError as exc:
        if os.environ.get("DOCKYARD_DEBUG"):
            raise
        sys.stdout.flush()
        sys.stderr.write(error_lines(exc))
        return exc.exit_code
    except KeyboardInterrupt:  # as click's standalone mode answers it
        sys.stderr.write("\nAborted!\n")
        return 1


def main() -> None:
    code = fast(sys.argv[1:])
    if code is None:
        from dockyard.cli.main import main as click_main

        click_main()
        return
    from dockyard.cli.run_command import exit_now

    exit_now(code)


if __name__ == "__main__":
    main()
