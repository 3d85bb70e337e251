"""Rules about what RUN scripts do (hadolint DL3001/3003/3004/3010/3046/3047/3059, DL400x)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dockyard.lint.facts import Facts, Instr, unquote
from dockyard.lint.model import Hit, rule
from dockyard.lint.pkgtools import run_instrs

_POINTLESS = {"ssh", "vim", "shutdown", "service", "ps", "free", "top", "kill", "mount",
              "ifconfig", "nano"}  # fmt: skip


@rule("DL3001", "info", "a command that does nothing useful while building an image",
      "drop it: there are no services, terminals or mounts to manage during a build")
def dl3001(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        names = {c.name for c in instr.script.commands}
        if names & _POINTLESS:
            yield Hit(instr.line, f"`{sorted(names & _POINTLESS)[0]}` has no use in a build step")


@rule("DL3003", "warning", "`cd` inside RUN; the next step starts in the old directory again",
      "set the directory with WORKDIR instead")
def dl3003(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        if instr.script.named("cd"):
            yield Hit(instr.line)


@rule("DL3004", "error", "sudo in a build step",
      "steps already run as the current USER; switch with USER, or use gosu/su-exec at run time")
def dl3004(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        if instr.script.named("sudo"):
            yield Hit(instr.line)


_ARCHIVE = re.compile(r"\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|gz|bz2|xz)$")


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path.strip("\"'").rstrip("/\\"))[-1]


@rule("DL3010", "info", "an archive is copied and then unpacked in a later RUN",
      "ADD a local tar archive to have it unpacked in one step, without keeping the archive")
def dl3010(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        for i, instr in enumerate(stage.instrs):
            if instr.keyword != "copy" or instr.flag("from") is not None or len(instr.node.args) < 2:
                continue
            names = {_basename(a) for a in instr.node.args if _ARCHIVE.search(unquote(a))}
            if not names:
                continue
            names.add(_basename(instr.node.args[-1]))
            for later in stage.instrs[i + 1 :]:
                tars = later.script.named("tar")
                if any(_basename(a) in names for t in tars for a in t.args):
                    yield Hit(instr.line)
                    break


@rule("DL3046", "warning", "useradd with a large UID and without `-l` bloats the image",
      "add `-l` (`--no-log-init`) so the lastlog/faillog files stay small")
def dl3046(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in instr.script.named("useradd"):
            if cmd.has_flag("l", "no-log-init"):
                continue
            args = cmd.args
            for i, arg in enumerate(args):
                uid = ""
                if arg in ("-u", "--uid") and i + 1 < len(args):
                    uid = args[i + 1]
                elif arg.startswith("--uid="):
                    uid = arg[6:]
                if uid.isdigit() and len(uid) > 5:
                    yield Hit(instr.line)


@rule("DL3047", "info", "wget prints a progress bar that floods the build log",
      "add `--progress=dot:giga`, or `-q` / `-nv`")
def dl3047(facts: Facts) -> Iterator[Hit]:
    quiet = {"-q", "--quiet", "-nv", "--no-verbose", "-o", "--output-file", "-a",
             "--append-output"}  # fmt: skip
    for instr in run_instrs(facts):
        for cmd in instr.script.named("wget"):
            if any(a.split("=", 1)[0] in quiet or a.startswith("--progress") for a in cmd.args):
                continue
            if cmd.has_flag("q"):
                continue
            yield Hit(instr.line)


def _single_command(instr: Instr) -> bool:
    return len(instr.script.commands) <= 1 and not instr.node.heredocs


@rule("DL3059", "info", "consecutive RUN steps that could be one",
      "join them with `&&` to save a layer and keep related steps together")
def dl3059(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        prev: Instr | None = None
        for instr in stage.instrs:
            if instr.keyword != "run" or instr.onbuild:
                prev = None
                continue
            if (prev is not None and prev.node.flags == instr.node.flags
                    and _single_command(prev) and _single_command(instr)):  # fmt: skip
                yield Hit(instr.line)
            prev = instr


@rule("DL4001", "warning", "both wget and curl are used",
      "pick one download tool so the image carries only one")
def dl4001(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        seen: set[str] = set()
        for instr in stage.instrs:
            if instr.keyword != "run":
                continue
            used = {c.name for c in instr.script.commands} & {"wget", "curl"}
            if used and (seen | used) == {"wget", "curl"}:
                yield Hit(instr.line)
            seen |= used


@rule("DL4005", "warning", "/bin/sh is replaced with a symlink",
      "use the SHELL instruction to change the shell of later steps")
def dl4005(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in instr.script.named("ln"):
            if "/bin/sh" in cmd.positional():
                yield Hit(instr.line)


def _pipefail_ok(shell: list[str]) -> bool:
    exe = shell[0].lower() if shell else ""
    if any(w in exe for w in ("pwsh", "powershell", "cmd")):
        return True
    pipefail = any(
        a == "pipefail" and i > 0 and shell[i - 1].startswith("-") and "o" in shell[i - 1]
        for i, a in enumerate(shell)
    )
    return pipefail and not exe.endswith("/sh") and exe != "sh"


@rule("DL4006", "warning", "a pipe in RUN hides the failure of all but its last command",
      "set `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` before this RUN")
def dl4006(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        shell = ["/bin/sh", "-c"]
        for instr in stage.instrs:
            if instr.keyword == "shell" and not instr.onbuild:
                shell = list(instr.node.args)
            elif instr.keyword == "run" and not instr.node.json_form:
                if instr.script.has_pipe and not _pipefail_ok(shell):
                    yield Hit(instr.line)
