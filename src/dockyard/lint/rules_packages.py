"""Package-manager rules (hadolint DL30xx): pin versions, answer prompts, clean caches."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dockyard.lint.facts import Facts, Instr, cache_mounted
from dockyard.lint.model import Hit, rule
from dockyard.lint.pkgtools import (
    PIP_VALUE_FLAGS,
    cleaned_after,
    commands,
    kept_in_image,
    pip_installs,
    rm_of,
    run_instrs,
    subcommand_args,
    values_dropped,
)
from dockyard.lint.shellparse import Command

APT_VALUE_FLAGS = {"-t", "--target-release", "-o", "--option", "-c", "--config-file"}


def _apt_installs(instr: Instr, names: tuple[str, ...] = ("apt-get",)) -> list[Command]:
    return [
        c for c in commands(instr, *names)
        if subcommand_args(c, {"install"}, APT_VALUE_FLAGS) is not None
    ]  # fmt: skip


@rule("DL3008", "warning", "apt-get install without a version for each package",
      "pin each package as `name=version` so rebuilds install the same thing")
def dl3008(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in _apt_installs(instr):
            args = subcommand_args(cmd, {"install"}, APT_VALUE_FLAGS) or []
            for pkg in values_dropped(args, APT_VALUE_FLAGS):
                if not ("=" in pkg or "/" in pkg or pkg.endswith(".deb")):
                    yield Hit(instr.line, f"apt-get install of `{pkg}` without a pinned version")
                    break


@rule("DL3009", "info", "the apt package lists are left in the image",
      "end the RUN with `rm -rf /var/lib/apt/lists/*` (or use a cache mount for them)")
def dl3009(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        cmds = [
            c for c in commands(instr, "apt-get", "apt", "aptitude")
            if subcommand_args(c, {"install", "update"}, APT_VALUE_FLAGS) is not None
        ]  # fmt: skip
        if not any(subcommand_args(c, {"update"}, APT_VALUE_FLAGS) is not None for c in cmds):
            continue
        if cache_mounted(instr, "/var/lib/apt/lists") or cache_mounted(
            instr, "/var/lib/apt", "/var/cache/apt"
        ):
            continue
        if any(rm_of(c, "/var/lib/apt/lists") for c in instr.script.commands):
            continue
        if kept_in_image(facts, instr):
            yield Hit(instr.line)


def _quiet_level(cmd: Command) -> int:
    level = 0
    for arg in cmd.args:
        if arg in ("-q=2", "--quiet=2", "-qq"):
            level += 2
        elif arg == "--quiet":
            level += 1
        elif arg.startswith("-") and not arg.startswith("--"):
            level += arg.count("q")
    return level


@rule("DL3014", "warning", "apt-get install may stop at a yes/no prompt",
      "add `-y` so the build never waits for an answer")
def dl3014(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in _apt_installs(instr):
            if not cmd.has_flag("y", "yes", "assume-yes") and _quiet_level(cmd) < 2:
                yield Hit(instr.line)


@rule("DL3015", "info", "apt-get install pulls in recommended packages too",
      "add `--no-install-recommends` to install only what you asked for")
def dl3015(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in _apt_installs(instr):
            if cmd.has_flag("no-install-recommends"):
                continue
            if any("Install-Recommends=false" in a for a in cmd.args):
                continue
            yield Hit(instr.line)


@rule("DL3027", "warning", "`apt` is meant for people at a terminal, not for scripts",
      "use `apt-get` or `apt-cache`, whose output and options stay stable")
def dl3027(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        if commands(instr, "apt"):
            yield Hit(instr.line)


def _pip_pinned(pkg: str) -> bool:
    if pkg in (".",) or pkg.startswith(("/", "./", "../")):
        return True
    if pkg.startswith("git+"):
        return "@" in pkg.split("://", 1)[-1].split("#", 1)[0].split("/", 1)[-1]
    if re.search(r"(==|>=|<=|~=|!=|<|>)", pkg):
        return True
    if pkg.endswith((".whl", ".tar.gz", ".zip", ".tgz", ".tar.bz2")):
        return True
    return "/" in pkg


@rule("DL3013", "warning", "pip install without a version for each package",
      "pin with `name==version`, or install from a requirements or constraints file")
def dl3013(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in instr.script.commands:
            args = pip_installs(cmd)
            if args is None:
                continue
            if any(a in ("-r", "--requirement", "-c", "--constraint") or
                   a.startswith(("--requirement=", "--constraint=", "-r=", "-c="))
                   for a in args):  # fmt: skip
                continue
            pkgs = values_dropped(args, PIP_VALUE_FLAGS)
            if any(not _pip_pinned(p) for p in pkgs):
                yield Hit(instr.line)
                break


_FALSY = {"0", "off", "no", "false"}


def _pip_cache_disabled(facts: Facts, instr: Instr, cmd: Command) -> bool:
    if cmd.has_flag("no-cache-dir"):
        return True
    if cache_mounted(instr, "/root/.cache/pip"):
        return True
    for assign in cmd.assignments:
        name, _, value = assign.partition("=")
        if name == "PIP_NO_CACHE_DIR":
            return value.lower() not in _FALSY
    for other in commands(instr, "export"):
        for arg in other.args:
            name, _, value = arg.partition("=")
            if name == "PIP_NO_CACHE_DIR":
                return value.lower() not in _FALSY
    env = facts.known_vars(instr)
    if "PIP_NO_CACHE_DIR" in env:
        return env["PIP_NO_CACHE_DIR"].lower() not in _FALSY
    return False


@rule("DL3042", "warning", "pip keeps its download cache in the image",
      "add `--no-cache-dir` (or set PIP_NO_CACHE_DIR=1, or use a cache mount)")
def dl3042(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in instr.script.commands:
            if cmd.name == "pipx" or pip_installs(cmd) is None:
                continue
            if not _pip_cache_disabled(facts, instr, cmd):
                yield Hit(instr.line)
                break


NPM_VALUE_FLAGS = {"--registry", "--loglevel", "--prefix", "--cache", "--tag", "-w", "--workspace"}


def _npm_pinned(pkg: str) -> bool:
    if pkg.startswith(("/", "./", "../", "~/")):
        return True
    if pkg.endswith((".tar", ".tar.gz", ".tgz")):
        return True
    if "://" in pkg or pkg.startswith("git@"):
        return "#" in pkg
    return "@" in pkg[1:]


@rule("DL3016", "warning", "npm install without a version for each package",
      "pin with `name@version`, or install from package.json / package-lock.json")
def dl3016(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in commands(instr, "npm"):
            args = subcommand_args(cmd, {"install", "i", "add"}, NPM_VALUE_FLAGS)
            if args is None:
                continue
            if any(not _npm_pinned(p) for p in values_dropped(args, NPM_VALUE_FLAGS)):
                yield Hit(instr.line)
                break


APK_VALUE_FLAGS = {
    "-X", "--repository", "-t", "--virtual", "--repositories-file", "-p", "--root",
    "--keys-dir", "--arch", "--cache-dir",
}  # fmt: skip


def _apk_adds(instr: Instr) -> list[tuple[Command, list[str]]]:
    out = []
    for cmd in commands(instr, "apk"):
        args = subcommand_args(cmd, {"add"}, APK_VALUE_FLAGS)
        if args is not None:
            out.append((cmd, args))
    return out


@rule("DL3018", "warning", "apk add without a version for each package",
      "pin with `name=version` (or `name~version`)")
def dl3018(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for _cmd, args in _apk_adds(instr):
            pkgs = values_dropped(args, APK_VALUE_FLAGS)
            if any(not (re.search(r"[=<>~]", p) or p.endswith(".apk")) for p in pkgs):
                yield Hit(instr.line)
                break


@rule("DL3019", "info", "apk add keeps its index cache in the image",
      "use `apk add --no-cache` instead of `--update` plus removing /var/cache/apk")
def dl3019(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        if cache_mounted(instr, "/var/cache/apk"):
            continue
        if any(not cmd.has_flag("no-cache") for cmd, _ in _apk_adds(instr)):
            yield Hit(instr.line)


_GEM_BOOL = {
    "--no-document", "--no-ri", "--no-rdoc", "--user-install", "--no-user-install",
    "--conservative", "--force", "--minimal-deps", "--ignore-dependencies", "--development",
    "--quiet", "--verbose", "--pre", "--prerelease", "--both", "--local", "--remote",
    "--clear-sources", "--default", "--explain", "--lock", "--no-lock", "--suggestions",
    "--post-install-message", "--wrappers", "--format-executable", "--env-shebang", "--vendor",
    "-N", "-E", "-f", "-l", "-r", "-b", "-q",
}  # fmt: skip


@rule("DL3028", "warning", "gem install without a version for each gem",
      "pin with `gem install name:version` or `-v version`")
def dl3028(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in commands(instr, "gem"):
            args = subcommand_args(cmd, {"install", "i"}, set())
            if args is None or any(a in ("-v", "--version") or a.startswith("--version=")
                                   for a in args):  # fmt: skip
                continue
            gems: list[str] = []
            skip = False
            for arg in args:
                if skip:
                    skip = False
                    continue
                if arg == "--":
                    break
                if arg.startswith("-"):
                    skip = "=" not in arg and arg not in _GEM_BOOL
                    continue
                gems.append(arg)
            if any(":" not in g for g in gems):
                yield Hit(instr.line)
                break


def _rpm_installs(instr: Instr, tools: tuple[str, ...], subs: set[str]) -> list[Command]:
    return [c for c in commands(instr, *tools) if _rpm_sub(c) in subs]


def _rpm_sub(cmd: Command) -> str:
    pos = values_dropped(cmd.args, {"--setopt", "-c", "--config", "--releasever"}, stop=None)
    if not pos:
        return ""
    if pos[0] in ("module", "group") and len(pos) > 1:
        return f"{pos[0]} {pos[1]}"
    return pos[0]


def _rpm_packages(cmd: Command) -> list[str]:
    pos = values_dropped(cmd.args, {"--setopt", "-c", "--config", "--releasever"}, stop=None)
    return pos[2:] if pos and pos[0] in ("module", "group") else pos[1:]


def _rpm_pinned(facts: Facts, instr: Instr, cmd: Command, pkg: str) -> bool:
    pkg = facts.expand(instr, pkg)
    if _rpm_sub(cmd).startswith("module "):
        return ":" in pkg
    return bool(re.search(r"-\d", pkg)) or pkg.endswith(".rpm")


_YUM_INSTALL = {"install", "groupinstall", "localinstall", "module install"}


@rule("DL3030", "warning", "yum install may stop at a yes/no prompt",
      "add `-y` so the build never waits for an answer")
def dl3030(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        if any(not c.has_flag("y", "assumeyes") for c in _rpm_installs(instr, ("yum",),
                                                                        _YUM_INSTALL)):
            yield Hit(instr.line)


def _yum_clean(cmd: Command) -> bool:
    return (cmd.name == "yum" and cmd.positional()[:2] == ["clean", "all"]) or rm_of(
        cmd, "/var/cache/yum"
    )


@rule("DL3032", "warning", "the yum cache is left in the image",
      "end the RUN with `yum clean all`")
def dl3032(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        installs = _rpm_installs(instr, ("yum",), _YUM_INSTALL)
        if installs and not cleaned_after(instr, installs, _yum_clean):
            yield Hit(instr.line)


@rule("DL3033", "warning", "yum install without a version for each package",
      "pin with `name-version`")
def dl3033(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in _rpm_installs(instr, ("yum",), {"install", "module install"}):
            if any(not _rpm_pinned(facts, instr, cmd, p) for p in _rpm_packages(cmd)):
                yield Hit(instr.line)
                break


_DNF = ("dnf", "microdnf")
_DNF_INSTALL = {"install", "in", "module install", "group install", "groupinstall"}
_DNF_CHANGE = _DNF_INSTALL | {"upgrade", "up", "upgrade-minimal", "up-min", "reinstall", "rei"}


@rule("DL3038", "warning", "dnf install may stop at a yes/no prompt",
      "add `-y` so the build never waits for an answer")
def dl3038(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        if any(not c.has_flag("y", "assumeyes") for c in _rpm_installs(instr, _DNF, _DNF_INSTALL)):
            yield Hit(instr.line)


def _dnf_clean(cmd: Command, tool: str) -> bool:
    return (cmd.name == tool and cmd.positional()[:2] == ["clean", "all"]) or rm_of(
        cmd, "/var/cache/yum", "/var/cache/dnf", "/var/cache/libdnf5"
    )


@rule("DL3040", "warning", "the dnf cache is left in the image",
      "end the RUN with `dnf clean all`")
def dl3040(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        installs = _rpm_installs(instr, _DNF, _DNF_CHANGE)
        if not installs or cache_mounted(instr, "/var/cache/libdnf5"):
            continue
        for cmd in installs:
            same = [c for c in installs if c.name == cmd.name]
            if not cleaned_after(instr, same, lambda c, n=cmd.name: _dnf_clean(c, n)):
                yield Hit(instr.line)
                break


@rule("DL3041", "warning", "dnf install without a version for each package",
      "pin with `name-version`")
def dl3041(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in _rpm_installs(instr, _DNF, {"install", "in", "module install"}):
            if any(not _rpm_pinned(facts, instr, cmd, p) for p in _rpm_packages(cmd)):
                yield Hit(instr.line)
                break


_ZYPPER_VALUE = {"-r", "--repo", "--from", "-t", "--type"}


def _zypper(instr: Instr, subs: set[str]) -> list[tuple[Command, list[str]]]:
    out = []
    for cmd in commands(instr, "zypper"):
        args = subcommand_args(cmd, subs, _ZYPPER_VALUE)
        if args is not None:
            out.append((cmd, args))
    return out


_ZYPPER_INSTALL = {"install", "in"}


@rule("DL3034", "warning", "zypper may stop at a yes/no prompt",
      "add `-n` (`--non-interactive`) or `-y`")
def dl3034(facts: Facts) -> Iterator[Hit]:
    subs = _ZYPPER_INSTALL | {"remove", "rm", "source-install", "si", "patch", "update", "up"}
    for instr in run_instrs(facts):
        for cmd, _ in _zypper(instr, subs):
            if not cmd.has_flag("n", "non-interactive", "y", "no-confirm"):
                yield Hit(instr.line)
                break


@rule("DL3035", "warning", "`zypper dist-upgrade` in a Dockerfile",
      "upgrade the base image instead, or install the specific packages you need")
def dl3035(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        if _zypper(instr, {"dist-upgrade", "dup"}):
            yield Hit(instr.line)


def _zypper_clean(cmd: Command) -> bool:
    return cmd.name == "zypper" and bool(set(cmd.positional()[:1]) & {"clean", "cc"})


@rule("DL3036", "warning", "the zypper cache is left in the image",
      "end the RUN with `zypper clean`")
def dl3036(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        installs = [c for c, _ in _zypper(instr, _ZYPPER_INSTALL)]
        if not installs or cache_mounted(instr, "/var/cache/zypp"):
            continue
        if not cleaned_after(instr, installs, _zypper_clean):
            yield Hit(instr.line)


@rule("DL3037", "warning", "zypper install without a version for each package",
      "pin with `name=version` (or `name>=version`)")
def dl3037(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for _cmd, args in _zypper(instr, _ZYPPER_INSTALL):
            pkgs = values_dropped(args, _ZYPPER_VALUE)
            if any(not (re.search(r"[=<>]", p) or p.endswith(".rpm")) for p in pkgs):
                yield Hit(instr.line)
                break


def _yarn_clean(cmd: Command) -> bool:
    return cmd.name == "yarn" and cmd.positional()[:2] == ["cache", "clean"]


@rule("DL3060", "info", "the yarn cache is left in the image",
      "end the RUN with `yarn cache clean` (or use a cache mount)")
def dl3060(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        installs = [c for c in commands(instr, "yarn") if c.positional()[:1] == ["install"]]
        if not installs or cache_mounted(instr, "/root/.cache/yarn"):
            continue
        if cache_mounted(instr, "/usr/local/share/.cache/yarn"):
            continue
        if not cleaned_after(instr, installs, _yarn_clean) and kept_in_image(facts, instr):
            yield Hit(instr.line)


def _go_pinned(pkg: str) -> bool:
    if pkg.startswith(("/", ".")):
        return True
    return "@" in pkg and not pkg.endswith("@latest")


@rule("DL3062", "warning", "go install/get/run without a module version",
      "add `@vX.Y.Z` to the package path")
def dl3062(facts: Facts) -> Iterator[Hit]:
    for instr in run_instrs(facts):
        for cmd in commands(instr, "go"):
            pos = cmd.positional()
            if not pos or pos[0] not in ("install", "get", "run"):
                continue
            pkgs = values_dropped(cmd.args[cmd.args.index(pos[0]) + 1 :], {"-C", "-o"})
            if pos[0] == "run":
                pkgs = pkgs[:1]
            if any(not _go_pinned(p) for p in pkgs):
                yield Hit(instr.line)
                break
