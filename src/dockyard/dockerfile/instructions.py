"""AST nodes -> typed commands (dockyard.dockerfile.commands), with BuildKit's checks and messages.

`parse_command(node)` turns one Node into a Command; stages.py groups them into build stages.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from dockyard.dockerfile.ast import Node
from dockyard.dockerfile.commands import (
    Add,
    Arg,
    ArgPair,
    Cmd,
    Command,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Label,
    Maintainer,
    Mount,
    Onbuild,
    Run,
    Shell,
    SourceContent,
    Stopsignal,
    User,
    Volume,
    Workdir,
)
from dockyard.dockerfile.errors import DockerfileSyntaxError, LocalError
from dockyard.dockerfile.flags import parse_flags, parse_go_duration, suggest
from dockyard.dockerfile.heredoc import chomp_heredoc_content, try_parse_heredoc

__all__ = ["INSTRUCTIONS", "parse_command"]

INSTRUCTIONS = (
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER ONBUILD "
    "RUN SHELL STOPSIGNAL USER VOLUME WORKDIR"
).split()
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*\Z")
_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")


def _at_least_one(cmd: str) -> LocalError:
    return LocalError(f"{cmd} requires at least one argument", expected=f"{cmd} <argument>")


def _exactly_one(cmd: str) -> LocalError:
    return LocalError(f"{cmd} requires exactly one argument", expected=f"{cmd} <argument>")


def _kv_pairs(node: Node, cmd: str) -> list[tuple[str, str]]:
    parse_flags(node.flags)
    args = node.args
    if not args:
        raise _at_least_one(cmd)
    if len(args) % 3:
        raise LocalError(f"Bad input to {cmd}, too many arguments")
    pairs = []
    for i in range(0, len(args), 3):
        if not args[i]:
            raise LocalError(f"{cmd} names can not be blank", expected="name=value")
        pairs.append((args[i], args[i + 1]))
    return pairs


def _cmdline(node: Node) -> list[str] | str:
    if node.json_form:
        return list(node.args)
    return node.args[0] if node.args else ""


def _sources(node: Node, cmd: str) -> tuple[list[str], str, list[SourceContent]]:
    if len(node.args) < 2:
        raise LocalError(
            f"{cmd} requires at least two arguments, but only one was provided. "
            "Destination could not be determined.",
            expected=f"{cmd} <src>... <dest>",
        )
    srcs, dest = node.args[:-1], node.args[-1]
    if try_parse_heredoc(dest) is not None:
        raise LocalError(f"{cmd} cannot accept a heredoc as a destination")
    by_name = {h.name: h for h in node.heredocs}
    paths: list[str] = []
    contents: list[SourceContent] = []
    for src in srcs:
        doc = try_parse_heredoc(src) if not node.json_form else None
        if doc is None:
            paths.append(src)
            continue
        found = by_name.get(doc.name)
        data = found.content if found else ""
        if doc.chomp:
            data = chomp_heredoc_content(data)
        contents.append(SourceContent(path=doc.name, data=data, expand=doc.expand))
    return paths, dest, contents


def _from(node: Node) -> From:
    args = node.args
    name = ""
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.match(name):
            raise LocalError(
                f'invalid name for build stage: "{args[2]}", name can\'t start with a number or '
                "contain symbols",
                expected="a stage name matching [a-z][a-z0-9-_.]*",
                needle=args[2],
            )
    elif len(args) != 1:
        raise LocalError(
            "FROM requires either one or three arguments", expected="FROM <image> [AS <name>]"
        )
    flags = parse_flags(node.flags, strings=("platform",))
    return From(node, base=args[0], stage_name=name, platform=flags.string("platform"))


def parse_mount(spec: str) -> Mount:
    """One `--mount=type=cache,target=/x,...` value."""
    mount = Mount()
    seen_type = False
    for field_text in (f for f in spec.split(",") if f):
        key, has_value, value = field_text.partition("=")
        key = key.strip().lower()
        mount.options[key] = value
        if key == "type":
            if value not in _MOUNT_TYPES:
                raise LocalError(
                    f'unsupported mount type "{value}"',
                    expected="one of " + ", ".join(_MOUNT_TYPES),
                )
            mount.type = value
            seen_type = True
        elif key in ("target", "dst", "destination"):
            mount.target = value
        elif key in ("source", "src"):
            mount.source = value
        elif key == "from":
            mount.from_ = value
        elif key in ("readonly", "ro", "readwrite", "rw"):
            flag = value.lower() not in ("false", "0") if has_value else True
            mount.readonly = flag if key in ("readonly", "ro") else not flag
        elif key == "id":
            mount.id = value
        elif key == "sharing":
            if value not in ("shared", "private", "locked"):
                raise LocalError(f'unsupported sharing value "{value}"')
            mount.sharing = value
        elif key in ("mode", "uid", "gid"):
            try:
                number = int(value, 8) if key == "mode" else int(value)
            except ValueError:
                raise LocalError(f'invalid value for {key}: "{value}"') from None
            setattr(mount, key, number)
        elif key == "required":
            mount.required = value.lower() not in ("false", "0") if has_value else True
        elif key in ("size", "env"):
            setattr(mount, key, value)
        else:
            raise LocalError(f"unexpected key '{key}' in '{field_text}'", needle=field_text)
    if not seen_type:
        mount.type = "bind"
    if not mount.target and mount.type in ("bind", "cache", "tmpfs"):
        raise LocalError(f"mount type {mount.type} requires a target", expected="target=<path>")
    return mount


def _run(node: Node) -> Run:
    flags = parse_flags(node.flags, strings=("network", "security"), multi=("mount",))
    network = flags.string("network")
    if network and network not in ("default", "none", "host"):
        raise LocalError(f'unsupported network mode "{network}"', expected="default, none or host")
    security = flags.string("security")
    if security and security not in ("sandbox", "insecure"):
        raise LocalError(f'unsupported security mode "{security}"', expected="sandbox or insecure")
    mounts = [parse_mount(spec) for spec in flags.strings("mount")]
    return Run(
        node,
        cmd=_cmdline(node),
        json_form=node.json_form,
        heredocs=list(node.heredocs),
        mounts=mounts,
        network=network,
        security=security,
    )


def _copy(node: Node) -> Copy:
    if len(node.args) < 2:
        _sources(node, "COPY")
    flags = parse_flags(
        node.flags,
        strings=("chown", "from", "chmod"),
        bools=("link", "parents"),
        multi=("exclude",),
    )
    paths, dest, contents = _sources(node, "COPY")
    return Copy(
        node,
        sources=paths,
        dest=dest,
        from_=flags.string("from"),
        chown=flags.string("chown"),
        chmod=flags.string("chmod"),
        link=flags.boolean("link"),
        parents=flags.boolean("parents"),
        exclude=flags.strings("exclude"),
        heredocs=contents,
    )


def _add(node: Node) -> Add:
    if len(node.args) < 2:
        _sources(node, "ADD")
    flags = parse_flags(
        node.flags,
        strings=("chown", "chmod", "checksum"),
        bools=("link", "keep-git-dir", "unpack"),
        multi=("exclude",),
    )
    paths, dest, contents = _sources(node, "ADD")
    return Add(
        node,
        sources=paths,
        dest=dest,
        chown=flags.string("chown"),
        chmod=flags.string("chmod"),
        link=flags.boolean("link"),
        exclude=flags.strings("exclude"),
        heredocs=contents,
        checksum=flags.string("checksum"),
        keep_git_dir=flags.boolean("keep-git-dir"),
        unpack=flags.boolean("unpack") if "unpack" in flags.used else None,
    )


def _interval(name: str, value: str) -> int:
    if value == "":
        return 0
    ns = parse_go_duration(value)
    if ns == 0:
        return 0
    if ns < 1_000_000:
        raise LocalError(
            f'Interval "{name}" cannot be less than 1ms', expected=f"--{name}=1ms or more"
        )
    return ns


def _healthcheck(node: Node) -> Healthcheck:
    if not node.args:
        raise _at_least_one("HEALTHCHECK")
    typ = node.args[0].upper()
    rest = node.args[1:]
    if typ == "NONE":
        if rest:
            raise LocalError("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(node, test=["NONE"])
    flags = parse_flags(
        node.flags, strings=("interval", "timeout", "start-period", "start-interval", "retries")
    )
    if typ != "CMD":
        raise LocalError(f'Unknown type "{typ}" in HEALTHCHECK (try CMD)', expected="CMD or NONE")
    if not rest:
        raise LocalError(
            "Missing command after HEALTHCHECK CMD", expected="HEALTHCHECK CMD <command>"
        )
    test = ["CMD", *rest] if node.json_form else ["CMD-SHELL", rest[0]]
    retries_text = flags.string("retries")
    retries = 0
    if retries_text:
        try:
            retries = int(retries_text, 10)
        except ValueError:
            raise LocalError(
                f'strconv.ParseInt: parsing "{retries_text}": invalid syntax', expected="a number"
            ) from None
        if retries < 0:
            raise LocalError(f"--retries cannot be negative ({retries})")
    return Healthcheck(
        node,
        test=test,
        interval=_interval("interval", flags.string("interval")),
        timeout=_interval("timeout", flags.string("timeout")),
        start_period=_interval("start-period", flags.string("start-period")),
        start_interval=_interval("start-interval", flags.string("start-interval")),
        retries=retries,
    )


def _onbuild(node: Node) -> Onbuild:
    if node.sub is None:
        raise _at_least_one("ONBUILD")
    parse_flags(node.flags)
    trigger = node.sub.raw_keyword.upper()
    if trigger == "ONBUILD":
        raise LocalError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise LocalError(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", node.original, count=1)
    for heredoc in node.heredocs:
        expression += "\n" + heredoc.content + heredoc.name
    return Onbuild(node, expression=expression)


def _arg(node: Node) -> Arg:
    if not node.args:
        raise _at_least_one("ARG")
    parse_flags(node.flags)
    pairs = []
    for word in node.args:
        if "=" in word:
            name, value = word.split("=", 1)
            if not name:
                raise LocalError("ARG names can not be blank", expected="ARG <name>[=<default>]")
            pairs.append(ArgPair(name, value))
        else:
            pairs.append(ArgPair(word))
    return Arg(node, args=pairs)


def _one(cmd: str) -> Callable[[Node], str]:
    def get(node: Node) -> str:
        if len(node.args) != 1:
            raise _exactly_one(cmd)
        parse_flags(node.flags)
        return node.args[0]

    return get


def _shell(node: Node) -> Shell:
    parse_flags(node.flags)
    if not node.args:
        raise _at_least_one("SHELL")
    if not node.json_form:
        raise LocalError(
            "SHELL requires the arguments to be in JSON form",
            expected='SHELL ["executable", "parameters"]',
        )
    return Shell(node, shell=list(node.args))


def _volume(node: Node) -> Volume:
    if not node.args:
        raise _at_least_one("VOLUME")
    parse_flags(node.flags)
    paths = []
    for value in node.args:
        value = value.strip()
        if not value:
            raise LocalError("VOLUME specified can not be an empty string")
        paths.append(value)
    return Volume(node, paths=paths)


def _expose(node: Node) -> Expose:
    if not node.args:
        raise _at_least_one("EXPOSE")
    parse_flags(node.flags)
    return Expose(node, ports=sorted(node.args))


_PARSERS: dict[str, Callable[[Node], Command]] = {
    "add": _add,
    "arg": _arg,
    "cmd": lambda n: (parse_flags(n.flags), Cmd(n, cmd=_cmdline(n), json_form=n.json_form))[1],
    "copy": _copy,
    "entrypoint": lambda n: (
        parse_flags(n.flags),
        Entrypoint(n, cmd=_cmdline(n), json_form=n.json_form),
    )[1],
    "env": lambda n: Env(n, pairs=_kv_pairs(n, "ENV")),
    "expose": _expose,
    "from": _from,
    "healthcheck": _healthcheck,
    "label": lambda n: Label(n, pairs=_kv_pairs(n, "LABEL")),
    "maintainer": lambda n: Maintainer(n, maintainer=_one("MAINTAINER")(n)),
    "onbuild": _onbuild,
    "run": _run,
    "shell": _shell,
    "stopsignal": lambda n: Stopsignal(n, signal=_one("STOPSIGNAL")(n)),
    "user": lambda n: User(n, user=_one("USER")(n)),
    "volume": _volume,
    "workdir": lambda n: Workdir(n, path=_one("WORKDIR")(n)),
}


def located(exc: LocalError, node: Node, filename: str) -> DockerfileSyntaxError:
    """A LocalError placed at the node's first line (the column of `needle` when it is found)."""
    text = node.original
    column = 1
    if exc.needle and exc.needle in text:
        column = text.index(exc.needle) + 1
    else:
        column = len(text) - len(text.lstrip()) + 1
    return DockerfileSyntaxError(
        exc.message,
        filename=filename,
        line=max(node.start_line, 1),
        column=column,
        line_text=text,
        expected=exc.expected,
    )


def parse_command(node: Node, filename: str = "Dockerfile") -> Command:
    """The typed command for one AST node; DockerfileSyntaxError (file:line) when it is invalid."""
    parser = _PARSERS.get(node.keyword)
    try:
        if parser is None:
            hint = suggest(node.raw_keyword or node.keyword, INSTRUCTIONS)
            extra = f" (did you mean {hint}?)" if hint else ""
            raise LocalError(
                f"unknown instruction: {node.raw_keyword or node.keyword}{extra}",
                expected="one of " + " ".join(INSTRUCTIONS),
            )
        return parser(node)
    except LocalError as exc:
        raise located(exc, node, filename) from None
