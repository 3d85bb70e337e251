"""Helpers for the package-manager rules: which commands install what, and what counts as pinned."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from dockyard.lint.facts import Facts, Instr
from dockyard.lint.shellparse import Command


def values_dropped(args: Iterable[str], takes_value: set[str], stop: str | None = "--") -> list[str]:
    """Positional arguments, with flags and the values of flags in `takes_value` removed."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if stop is not None and arg == stop:
            break
        if arg.startswith("-") and len(arg) > 1:
            if "=" not in arg and arg in takes_value:
                skip = True
            continue
        out.append(arg)
    return out


def subcommand_args(cmd: Command, subcommands: set[str], takes_value: set[str]) -> list[str] | None:
    """Arguments after the first positional word if that word is in `subcommands`, else None."""
    args = cmd.args
    skip = False
    for i, arg in enumerate(args):
        if skip:
            skip = False
            continue
        if arg.startswith("-"):
            if "=" not in arg and arg in takes_value:
                skip = True
            continue
        return args[i + 1 :] if arg in subcommands else None
    return None


def commands(instr: Instr, *names: str) -> list[Command]:
    return instr.script.named(*names) if names else list(instr.script.commands)


def run_instrs(facts: Facts) -> Iterator[Instr]:
    for instr in facts.instrs:
        if instr.keyword == "run":
            yield instr


def index_of(instr: Instr, cmd: Command) -> int:
    return next(i for i, c in enumerate(instr.script.commands) if c is cmd)


def cleaned_after(instr: Instr, installs: list[Command], is_clean: object) -> bool:
    """True when a clean-up command follows the last install in the same RUN."""
    assert callable(is_clean)
    cmds = instr.script.commands
    last = max(index_of(instr, c) for c in installs)
    return any(is_clean(c) for c in cmds[last + 1 :])


def rm_of(cmd: Command, *prefixes: str) -> bool:
    return cmd.name == "rm" and any(
        a.startswith(p) for a in cmd.args for p in prefixes
    )


def kept_in_image(facts: Facts, instr: Instr) -> bool:
    """ONBUILD triggers always count; else the stage is the last one or a later FROM uses it."""
    if instr.onbuild:
        return True
    stage = facts.stage_of(instr)
    if stage is None:
        return True
    return stage.index == len(facts.stages) - 1 or facts.used_as_base(stage)


PIP_VALUE_FLAGS = {
    "-c", "--constraint", "-e", "--editable", "-t", "--target", "--platform", "--python-version",
    "--implementation", "--abi", "--root", "--prefix", "--src", "--upgrade-strategy",
    "--progress-bar", "--root-user-action", "--build", "-i", "--index-url", "--extra-index-url",
    "-f", "--find-links", "--log", "--proxy", "--retries", "--timeout", "--exists-action",
    "--trusted-host", "--cert", "--client-cert", "--cache-dir", "--global-option",
    "--install-option", "--no-binary", "--only-binary", "--python", "--pip-args", "--suffix",
    "--config-settings", "-C", "--report", "--spec", "--index",
}  # fmt: skip


def pip_installs(cmd: Command) -> list[str] | None:
    """The package arguments of a `pip install` (also `python -m pip install`, pipx), else None."""
    args = cmd.args
    if re.fullmatch(r"python[0-9.]*", cmd.name):
        if len(args) >= 2 and args[0] == "-m" and args[1] == "pip":
            args = args[2:]
        else:
            return None
    elif not re.fullmatch(r"pip[0-9.]*|pipx", cmd.name):
        return None
    fake = Command(name="pip", args=args)
    rest = subcommand_args(fake, {"install"}, PIP_VALUE_FLAGS)
    if rest is None:
        return None
    return rest
