"""ARG scoping and variable expansion exactly where Docker applies it.

- `platform_args()` / `PROXY_ARGS`: the predefined ARGs.
- `global_scope()`: the meta ARGs (before the first FROM) with --build-arg overrides; only FROM
  lines see them unless a stage redeclares them (`ARG NAME` without a value).
- `expand_from()`: a stage's FROM with its base and --platform expanded.
- `StageEnv`: walks one stage's commands in order, yielding for each the expanded command (ADD
  COPY ENV EXPOSE LABEL STOPSIGNAL USER VOLUME WORKDIR ARG; never RUN CMD ENTRYPOINT SHELL
  ONBUILD HEALTHCHECK), the image Env, the ARG values in scope, the build args it used (for the
  cache key) and UndefinedVar warnings as BuildKit's check words them.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from dockyard.dockerfile.ast import Warning
from dockyard.dockerfile.commands import (
    Add,
    Arg,
    ArgPair,
    Command,
    Copy,
    Env,
    Expose,
    From,
    Label,
    Stopsignal,
    User,
    Volume,
    Workdir,
)
from dockyard.dockerfile.errors import DockerfileSyntaxError
from dockyard.dockerfile.flags import suggest
from dockyard.dockerfile.shell import ShellExpansionError, ShellLexer

PROXY_ARGS = (
    "HTTP_PROXY http_proxy HTTPS_PROXY https_proxy FTP_PROXY ftp_proxy NO_PROXY no_proxy "
    "ALL_PROXY all_proxy"
).split()
PLATFORM_ARGS = (
    "TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT"
).split()
UNDEFINED_VAR_URL = "https://docs.docker.com/go/dockerfile/rule/undefined-var/"
UNDEFINED_ARG_IN_FROM_URL = "https://docs.docker.com/go/dockerfile/rule/undefined-arg-in-from/"

_ARCH = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", ""),
         "arm64": ("arm64", ""), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
         "i686": ("386", ""), "i386": ("386", ""), "ppc64le": ("ppc64le", ""),
         "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}  # fmt: skip


def host_platform() -> str:
    """This machine as an OCI platform string, e.g. "linux/amd64" or "linux/arm/v7"."""
    machine = os.uname().machine.lower()  # platform.machine() without importing `platform`
    arch, variant = _ARCH.get(machine, (machine, ""))
    return "/".join(p for p in ("linux", arch, variant) if p)


def platform_args(target: str | None = None, build: str | None = None) -> dict[str, str]:
    """TARGET* and BUILD* ARG values (target defaults to the build platform, the host)."""
    values: dict[str, str] = {}
    build = build or host_platform()
    for prefix, spec in (("BUILD", build), ("TARGET", target or build)):
        parts = spec.split("/")
        values[prefix + "PLATFORM"] = spec
        values[prefix + "OS"] = parts[0]
        values[prefix + "ARCH"] = parts[1] if len(parts) > 1 else ""
        values[prefix + "VARIANT"] = parts[2] if len(parts) > 2 else ""
    return values


def _fail(exc: ShellExpansionError, command: Command) -> DockerfileSyntaxError:
    return DockerfileSyntaxError(
        exc.message, line=max(command.line, 1), line_text=command.node.original, hint=exc.hint
    )


@dataclass
class GlobalScope:
    """The values FROM lines can use, and which --build-args the meta ARGs consumed."""

    values: dict[str, str]
    declared: set[str]
    used_build_args: set[str] = field(default_factory=set)
    warnings: list[Warning] = field(default_factory=list)


def global_scope(
    meta_args: Iterable[Arg],
    build_args: Mapping[str, str] | None = None,
    target_platform: str | None = None,
    escape: str = "\\",
) -> GlobalScope:
    """Evaluate the meta ARGs in order: a --build-arg beats the default; defaults may use earlier
    meta ARGs and the platform ARGs."""
    build_args = build_args or {}
    lexer = ShellLexer(escape)
    values = platform_args(target_platform)
    scope = GlobalScope(values=values, declared=set())
    for command in meta_args:
        for pair in command.args:
            scope.declared.add(pair.name)
            if pair.name in build_args:
                values[pair.name] = build_args[pair.name]
                scope.used_build_args.add(pair.name)
            elif pair.default is not None:
                try:
                    values[pair.name] = lexer.process_word(pair.default, values)
                except ShellExpansionError as exc:
                    raise _fail(exc, command) from None
    return scope


def expand_from(from_: From, scope: GlobalScope, escape: str = "\\") -> tuple[From, list[Warning]]:
    """The FROM with base and --platform expanded by the global scope, plus UndefinedArgInFrom."""
    lexer = ShellLexer(escape)
    warnings: list[Warning] = []
    try:
        base, _, unmatched = lexer.process_word_with_matches(from_.base, scope.values)
        platform_value = lexer.process_word(from_.platform, scope.values) if from_.platform else ""
    except ShellExpansionError as exc:
        raise _fail(exc, from_) from None
    for name in sorted(unmatched):
        close = suggest(name, sorted(scope.declared))
        extra = f" (did you mean {close}?)" if close else ""
        warnings.append(
            Warning(
                message=f"FROM argument '{name}' is not declared{extra}",
                line=from_.line,
                short="UndefinedArgInFrom",
                url=UNDEFINED_ARG_IN_FROM_URL,
            )
        )
    return replace(from_, base=base, platform=platform_value), warnings


@dataclass
class Step:
    """One command of a stage after expansion, and the environment around it."""

    command: Command  # expanded copy (same object for commands Docker does not expand)
    env: list[str]  # the image Env ("K=V") after this command
    args: dict[str, str]  # ARG values in scope after this command (not shadowed by ENV)
    used_args: set[str]  # build args this command's expansion read (cache key input)
    warnings: list[Warning]

    def run_env(self, build_args: Mapping[str, str] | None = None) -> list[str]:
        """The environment a RUN sees: image Env, then ARGs in scope, then proxy --build-args."""
        out = list(self.env)
        names = {e.split("=", 1)[0] for e in out}
        for name, value in self.args.items():
            if name not in names:
                out.append(f"{name}={value}")
                names.add(name)
        for name in PROXY_ARGS:
            if build_args and name in build_args and name not in names:
                out.append(f"{name}={build_args[name]}")
        return out


class StageEnv:
    """Tracks ENV and ARG through one stage; `step(command)` expands the next command."""

    def __init__(
        self,
        base_env: Iterable[str] = (),
        build_args: Mapping[str, str] | None = None,
        scope: GlobalScope | None = None,
        escape: str = "\\",
    ) -> None:
        self.env: list[str] = list(base_env)
        self.build_args = dict(build_args or {})
        self.globals = scope.values if scope else platform_args()
        self.lexer = ShellLexer(escape)
        self.args: dict[str, str] = {}  # declared ARGs with a value
        self.declared: set[str] = set()  # every ARG declared in this stage

    # -- lookups ------------------------------------------------------------------------
    def _env_map(self) -> dict[str, str]:
        out = dict(self.args)  # ENV beats ARG: overlay the image env last
        for entry in self.env:
            key, _, value = entry.partition("=")
            out[key] = value
        return out

    def _set_env(self, key: str, value: str) -> None:
        prefix = key + "="
        for i, entry in enumerate(self.env):
            if entry.startswith(prefix) or entry == key:
                self.env[i] = prefix + value
                return
        self.env.append(prefix + value)

    # -- expansion ----------------------------------------------------------------------
    def _word(self, word: str, env: dict[str, str], ctx: _Ctx) -> str:
        try:
            result, matched, unmatched = self.lexer.process_word_with_matches(word, env)
        except ShellExpansionError as exc:
            raise _fail(exc, ctx.command) from None
        env_keys = {e.split("=", 1)[0] for e in self.env}
        ctx.used |= {n for n in matched if n in self.args and n not in env_keys}
        for name in sorted(unmatched):
            if name in self.declared or name in PLATFORM_ARGS or name in ctx.reported:
                continue
            ctx.reported.add(name)
            close = suggest(name, sorted(env))
            extra = f" (did you mean ${close}?)" if close else ""
            ctx.warnings.append(
                Warning(
                    message=f"Usage of undefined variable '${name}'{extra}",
                    line=ctx.command.line,
                    short="UndefinedVar",
                    url=UNDEFINED_VAR_URL,
                )
            )
        return result

    def step(self, command: Command) -> Step:
        """Expand `command` against the current scope and apply its effect on ENV/ARG."""
        ctx = _Ctx(command)
        env = self._env_map()
        expanded: Command = command
        w = lambda word: self._word(word, env, ctx)  # noqa: E731
        if isinstance(command, Env):
            pairs = [(w(k), w(v)) for k, v in command.pairs]
            expanded = replace(command, pairs=pairs)
            for key, value in pairs:
                self._set_env(key, value)
        elif isinstance(command, Label):
            expanded = replace(command, pairs=[(w(k), w(v)) for k, v in command.pairs])
        elif isinstance(command, Arg):
            expanded = replace(command, args=[self._declare(p, env, ctx) for p in command.args])
        elif isinstance(command, (Copy, Add)):
            expanded = copy.copy(command)
            expanded.sources = [w(s) for s in command.sources]
            expanded.dest = w(command.dest)
            expanded.chown = w(command.chown) if command.chown else ""
            expanded.chmod = w(command.chmod) if command.chmod else ""
            if isinstance(command, Copy) and isinstance(expanded, Copy) and command.from_:
                expanded.from_ = w(command.from_)
        elif isinstance(command, Expose):
            expanded = replace(command, ports=[w(p) for p in command.ports])
        elif isinstance(command, Volume):
            expanded = replace(command, paths=[w(p) for p in command.paths])
        elif isinstance(command, User):
            expanded = replace(command, user=w(command.user))
        elif isinstance(command, Workdir):
            expanded = replace(command, path=w(command.path))
        elif isinstance(command, Stopsignal):
            expanded = replace(command, signal=w(command.signal))
        env_keys = {e.split("=", 1)[0] for e in self.env}
        args = {k: v for k, v in self.args.items() if k not in env_keys}
        return Step(expanded, list(self.env), args, ctx.used, ctx.warnings)

    def _declare(self, pair: ArgPair, env: dict[str, str], ctx: _Ctx) -> ArgPair:
        """Declare one ARG: --build-arg, else its default (expanded), else the meta ARG value."""
        name = pair.name
        self.declared.add(name)
        if name in self.build_args:
            value: str | None = self.build_args[name]
            ctx.used.add(name)
        elif pair.default is not None:
            value = self._word(pair.default, env, ctx)
        else:
            value = self.globals.get(name)
        if value is not None:
            self.args[name] = value
            if not any(e.startswith(name + "=") for e in self.env):  # ENV beats ARG
                env[name] = value  # later pairs of the same ARG line can use it
        return ArgPair(name, pair.default if pair.default is None else value)

    def walk(self, commands: Iterable[Command]) -> list[Step]:
        return [self.step(c) for c in commands]


@dataclass
class _Ctx:
    command: Command
    used: set[str] = field(default_factory=set)
    warnings: list[Warning] = field(default_factory=list)
    reported: set[str] = field(default_factory=set)
