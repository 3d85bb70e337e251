"""dockyard's own rules (DY ids): parse problems, upgrades, remote ADD, layer and image hygiene."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from dockyard.lint.facts import Facts, Instr, unquote
from dockyard.lint.model import Hit, rule
from dockyard.lint.pkgtools import pip_installs, subcommand_args

_F = "dockyard"


@rule("DY0000", "error", "the Dockerfile does not parse", "fix the syntax error on this line", _F)
def dy0000(facts: Facts) -> Iterator[Hit]:
    return iter(())  # reported by the runner when parsing fails


@rule("DY0001", "warning", "the parser warns about this line",
      "remove the empty or comment-only continuation lines (or what the warning names)", _F)
def dy0001(facts: Facts) -> Iterator[Hit]:
    for warning in facts.result.warnings:
        if warning.short == "MaintainerDeprecated":
            continue  # DL4000 / MaintainerDeprecated report it
        yield Hit(max(warning.line, 1), warning.message)


@rule("DY0002", "warning", "a full distribution upgrade in a build step",
      "use a newer base image instead; upgrades make builds unrepeatable and layers large", _F)
def dy0002(facts: Facts) -> Iterator[Hit]:
    for instr in facts.instrs:
        for cmd in instr.script.commands:
            if cmd.name in ("apt-get", "apt") and subcommand_args(
                cmd, {"upgrade", "dist-upgrade", "full-upgrade"}, {"-o", "-t"}
            ) is not None:
                yield Hit(instr.line, f"`{cmd.name} {cmd.positional()[0]}` upgrades every package")
                break
            if cmd.name == "apk" and cmd.positional()[:1] == ["upgrade"]:
                yield Hit(instr.line, "`apk upgrade` upgrades every package")
                break


@rule("DY0003", "warning", "ADD of a remote URL without --checksum",
      "add `--checksum=sha256:...` so a changed download fails the build", _F)
def dy0003(facts: Facts) -> Iterator[Hit]:
    for instr in facts.instrs:
        if instr.keyword != "add" or instr.flag("checksum") is not None:
            continue
        urls = [a for a in instr.node.args[:-1] if unquote(a).startswith(("http://", "https://"))]
        if urls:
            yield Hit(instr.line, f"ADD downloads {unquote(urls[0])} without verifying it")


def _covers(target: str, dest: str) -> bool:
    return dest == target or dest.startswith(target.rstrip("/") + "/") or \
        target.startswith(dest.rstrip("/") + "/")  # fmt: skip


@rule("DY0004", "warning", "recursive chown/chmod of files a COPY just added",
      "use `COPY --chown=user:group` / `--chmod=` instead: the RUN copies every file "
      "into a new layer", _F)
def dy0004(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        copied: list[str] = []
        cwd = "/"
        for instr in stage.instrs:
            if instr.keyword == "workdir" and instr.node.args:
                cwd = posixpath.normpath(posixpath.join(cwd, unquote(instr.node.args[0])))
            elif instr.keyword in ("copy", "add") and instr.node.args:
                copied.append(posixpath.normpath(posixpath.join(cwd, unquote(instr.node.args[-1]))))
            elif instr.keyword == "run" and copied:
                hit = _recursive_owner_change(instr, cwd, copied)
                if hit:
                    yield hit


def _recursive_owner_change(instr: Instr, cwd: str, copied: list[str]) -> Hit | None:
    for cmd in instr.script.named("chown", "chmod"):
        if not cmd.has_flag("R", "recursive"):
            continue
        paths = [posixpath.normpath(posixpath.join(cwd, t)) for t in cmd.positional()[1:]]
        if any(_covers(p, d) for p in paths for d in copied):
            return Hit(instr.line, f"`{cmd.name} -R` rewrites files a COPY added above")
    return None


_INSTALLERS = (
    ("npm", ("ci", "install", "i")),
    ("yarn", ("install",)),
    ("pnpm", ("install", "i")),
    ("bundle", ("install",)),
    ("poetry", ("install",)),
    ("composer", ("install",)),
    ("pipenv", ("install", "sync")),
    ("go", ("mod",)),
    ("cargo", ("fetch", "build")),
)


def _installs_dependencies(instr: Instr) -> str | None:
    for cmd in instr.script.commands:
        args = pip_installs(cmd)
        if args is not None:
            if "-r" in args or "--requirement" in args or "." in args or "-e" in args:
                return f"{cmd.name} install"
            continue
        for name, subs in _INSTALLERS:
            pos = cmd.positional()
            if cmd.name == name and pos[:1] and pos[0] in subs:
                return f"{name} {pos[0]}"
    return None


def _copies_everything(instr: Instr) -> bool:
    if instr.keyword not in ("copy", "add") or instr.flag("from") is not None:
        return False
    return any(unquote(a) in (".", "./") for a in instr.node.args[:-1])


@rule("DY0007", "warning", "dependencies are installed after the whole source is copied",
      "copy only the dependency manifest (requirements.txt, package*.json, ...) first, install, "
      "then copy the rest: a source change then keeps the install step cached", _F)
def dy0007(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        copied_all = False
        for instr in stage.instrs:
            if _copies_everything(instr):
                copied_all = True
            elif copied_all and instr.keyword == "run":
                what = _installs_dependencies(instr)
                if what:
                    yield Hit(instr.line, f"`{what}` runs after `COPY . .`, so every source "
                                          "change re-installs the dependencies")
                    break


@rule("DY0008", "warning", "the image runs as root: the final stage has no USER",
      "create a user and end with `USER <name or uid>`", _F)
def dy0008(facts: Facts) -> Iterator[Hit]:
    final = facts.final_stage()
    if final is None or final.from_instr is None:
        return
    if any(i.keyword == "user" for s in facts.ancestry(final) for i in s.instrs):
        return
    last = final.instrs[-1] if final.instrs else final.from_instr
    yield Hit(last.line)


_BUILD_TOOLS = {"gcc", "g++", "build-essential", "make", "clang", "cmake", "gcc-c++",
                "build-base", "musl-dev", "libc6-dev", "python3-dev", "python-dev"}  # fmt: skip


def _installed_tools(instr: Instr) -> set[str]:
    found: set[str] = set()
    removed: set[str] = set()
    for cmd in instr.script.commands:
        pos = cmd.positional()
        if cmd.name in ("apt-get", "apt", "apk", "yum", "dnf", "microdnf") and pos:
            pkgs = {p.split("=")[0] for p in pos[1:]}
            if pos[0] in ("install", "add"):
                found |= pkgs & _BUILD_TOOLS
            elif pos[0] in ("purge", "remove", "del", "autoremove", "erase"):
                removed |= pkgs
    return found - removed


@rule("DY0009", "info", "build tools stay in the final image",
      "build in a first stage and COPY --from it only the results into a slim final stage", _F)
def dy0009(facts: Facts) -> Iterator[Hit]:
    final = facts.final_stage()
    if final is None:
        return
    if any(i.flag("from") is not None for i in final.instrs if i.keyword == "copy"):
        return  # already multi-stage
    for stage in facts.ancestry(final):
        for instr in stage.instrs:
            if instr.keyword != "run":
                continue
            tools = _installed_tools(instr)
            npm_build = any(c.name in ("npm", "yarn", "pnpm") and c.positional()[:2] in
                            (["run", "build"], ["build"]) for c in instr.script.commands)  # fmt: skip
            if tools:
                yield Hit(instr.line, f"{', '.join(sorted(tools))} installed in the final image")
            elif npm_build:
                yield Hit(instr.line, "the JavaScript build and its node_modules stay in the "
                                      "final image")


_SUPERVISORS = {"supervisord", "supervisorctl", "pm2", "pm2-runtime", "honcho", "foreman"}


def _process_script(instr: Instr) -> str | None:
    args = instr.node.args
    if not instr.node.json_form:
        return " ".join(args)
    if len(args) >= 3 and posixpath.basename(args[0]) in ("sh", "bash", "ash") and "-c" in args:
        return args[args.index("-c") + 1] if args.index("-c") + 1 < len(args) else None
    return None


@rule("DY0010", "warning", "the container starts several processes",
      "run one process per container (one service each, or compose them); "
      "use `--init` for signal handling", _F)
def dy0010(facts: Facts) -> Iterator[Hit]:
    from dockyard.lint import shellparse

    for instr in facts.instrs:
        if instr.keyword not in ("cmd", "entrypoint"):
            continue
        args = instr.node.args
        first = posixpath.basename(unquote(args[0])) if args and instr.node.json_form else ""
        if first in _SUPERVISORS:
            yield Hit(instr.line, f"`{first}` runs several programs in one container")
            continue
        script = _process_script(instr)
        if script is None:
            continue
        parsed = shellparse.parse(script)
        names = {c.name for c in parsed.commands}
        if names & _SUPERVISORS:
            yield Hit(instr.line, f"`{sorted(names & _SUPERVISORS)[0]}` runs several programs")
        elif any(c.background for c in parsed.commands):
            yield Hit(instr.line, "`&` starts a background process next to the main one")
