"""Metadata-only Dockerfile steps: their effect on the image config and their `created_by`
strings, written exactly as BuildKit's dockerfile frontend writes them (Go's %q / %v / %+v)."""

from __future__ import annotations

from dockyard.dockerfile.commands import (
    Cmd,
    Command,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Label,
    Maintainer,
    Onbuild,
    Shell,
    Stopsignal,
    User,
    Volume,
    Workdir,
)
from dockyard.errors import InvalidArgument
from dockyard.oci.config import ImageConfig
from dockyard.oci.container_config import HealthConfig
from dockyard.records import Record

HISTORY_COMMENT = "buildkit.dockerfile.v0"
DEFAULT_SHELL = ("/bin/sh", "-c")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
META_KINDS = (Cmd, Entrypoint, Env, Expose, Healthcheck, Label, Maintainer, Onbuild, Shell,
              Stopsignal, User, Volume)  # fmt: skip

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\v": "\\v", "\\": "\\\\", '"': '\\"'}  # fmt: skip


def go_quote(text: str) -> str:
    """Go's strconv.Quote: printable runes kept, the rest escaped."""
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == " " or (ch.isprintable() and (ch < "\x80" or _category(ch)[0] != "Z")):
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_quote_list(items: list[str] | tuple[str, ...]) -> str:
    """fmt's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"


def go_list(items: list[str] | tuple[str, ...]) -> str:
    """fmt's %v of a []string: `[a b]`."""
    return "[" + " ".join(items) + "]"


def go_duration(ns: int) -> str:
    """time.Duration.String(): 0s, 1.5s, 5m0s, 1h2m3s, 300ms, 2µs."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _frac(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _frac(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _frac(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(rest).rjust(digits, '0').rstrip('0')}"


def expose_ports(specs: list[str]) -> list[str]:
    """EXPOSE words -> sorted "port/proto" keys (ranges expanded), as nat.ParsePortSpecs does."""
    ports: set[str] = set()
    for spec in specs:
        port, _, proto = spec.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid proto: {proto}", hint="use tcp, udp or sctp")
        port = port.rsplit(":", 1)[-1]
        low, dash, high = port.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise InvalidArgument(f"invalid containerPort: {port}", hint="EXPOSE 80 or 80/udp")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise InvalidArgument(f"invalid range specified for container port: {port}")
        ports.update(f"{p}/{proto}" for p in range(first, last + 1))
    return sorted(ports)


def _category(ch: str) -> str:
    import unicodedata  # (only for a non-ASCII character)

    return str(unicodedata.category(ch))


def check_signal(value: str) -> None:
    """signal.ParseSignal: a number or a name with or without SIG."""
    if value.isdigit():
        return
    name = value.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    import signal as _signal  # (only a STOPSIGNAL needs it)

    if not hasattr(_signal.Signals, name) and not name.startswith("SIGRTM"):
        raise InvalidArgument(f"Invalid signal: {value}", hint="use a name like SIGTERM or a number")


def shell_of(config: ImageConfig) -> tuple[str, ...]:
    return tuple(config.cfg.shell or ()) or DEFAULT_SHELL


def with_shell(config: ImageConfig, args: list[str] | str) -> list[str]:
    """withShell: the image's SHELL (or /bin/sh -c) and the command line joined by spaces."""
    text = args if isinstance(args, str) else " ".join(args)
    return [*shell_of(config), text]


def normalize_workdir(current: str, requested: str) -> str:
    """system.NormalizeWorkdir for Linux: relative paths join the current one; cleaned."""
    import posixpath

    if not requested.startswith("/"):
        requested = posixpath.join(current or "/", requested)
    cleaned = posixpath.normpath(requested)
    return "/" if cleaned in ("//", ".") else cleaned


class StageFlags(Record):
    """What earlier commands of this stage set (ENTRYPOINT clears an inherited CMD only)."""

    _fields = ("cmd_set",)

    def __init__(self, cmd_set: bool = False) -> None:
        self.cmd_set = cmd_set


def apply_meta(config: ImageConfig, command: Command, flags: StageFlags) -> tuple[ImageConfig, str | None]:
    """The config after a metadata-only command, and its history `created_by` (None: no entry)."""
    cfg = config.cfg
    if isinstance(command, Env):
        for key, value in command.pairs:
            cfg = cfg.with_env(**{key: value})
        text = "ENV" + "".join(f" {k}={v}" for k, v in command.pairs)
    elif isinstance(command, Label):
        labels = dict(cfg.labels or {})
        labels.update(dict(command.pairs))
        cfg = cfg.replace(labels=labels)
        text = "LABEL" + "".join(f" {k}={v}" for k, v in command.pairs)
    elif isinstance(command, Expose):
        ports = expose_ports(command.ports)
        exposed = dict(cfg.exposed_ports or {})
        exposed.update({p: {} for p in ports})
        cfg = cfg.replace(exposed_ports=exposed)
        text = "EXPOSE map[" + " ".join(f"{p}:{{}}" for p in ports) + "]"
    elif isinstance(command, (Cmd, Entrypoint)):
        args = list(command.cmd) if command.json_form else with_shell(config, command.cmd)
        if isinstance(command, Cmd):
            cfg = cfg.replace(cmd=tuple(args), args_escaped=True)
            flags.cmd_set = True
        else:
            cfg = cfg.replace(entrypoint=tuple(args), args_escaped=True)
            if not flags.cmd_set:
                cfg = cfg.replace(cmd=None)
        text = f"{command.name} {go_quote_list(args)}"
    elif isinstance(command, User):
        cfg = cfg.replace(user=command.user)
        text = f"USER {command.user}"
    elif isinstance(command, Volume):
        volumes = dict(cfg.volumes or {})
        volumes.update({p: {} for p in command.paths})
        cfg = cfg.replace(volumes=volumes)
        text = f"VOLUME {go_list(command.paths)}"
    elif isinstance(command, Stopsignal):
        check_signal(command.signal)
        cfg = cfg.replace(stop_signal=command.signal)
        text = f"STOPSIGNAL {command.signal}"
    elif isinstance(command, Shell):
        cfg = cfg.replace(shell=tuple(command.shell))
        text = f"SHELL {go_list(command.shell)}"
    elif isinstance(command, Healthcheck):
        health = HealthConfig(
            test=tuple(command.test), interval=command.interval, timeout=command.timeout,
            start_period=command.start_period, start_interval=command.start_interval,
            retries=command.retries,
        )  # fmt: skip
        cfg = cfg.replace(healthcheck=health)
        text = (
            f"HEALTHCHECK {{Test:{go_list(command.test)} Interval:{go_duration(command.interval)}"
            f" Timeout:{go_duration(command.timeout)}"
            f" StartPeriod:{go_duration(command.start_period)}"
            f" StartInterval:{go_duration(command.start_interval)} Retries:{command.retries}}}"
        )
    elif isinstance(command, Onbuild):
        cfg = cfg.replace(on_build=(*(cfg.on_build or ()), command.expression))
        return config.replace(config=cfg), None
    elif isinstance(command, Maintainer):
        return config.replace(author=command.maintainer), f"MAINTAINER {command.maintainer}"
    else:
        raise TypeError(f"not a metadata command: {command.name}")
    return config.replace(config=cfg), text


def workdir_config(config: ImageConfig, command: Workdir) -> tuple[ImageConfig, str]:
    """WORKDIR: the new WorkingDir (its directory is made by the executor)."""
    wd = normalize_workdir(config.cfg.working_dir, command.path)
    return config.replace(config=config.cfg.replace(working_dir=wd)), wd


def run_created_by(args: list[str], stage_args: list[tuple[str, str]]) -> str:
    """runCommandString: `|N K=V ...` for the stage's ARGs, then the command, + ` # buildkit`."""
    prefix: list[str] = []
    if stage_args:
        prefix = [f"|{len(stage_args)}"] + [f"{k}={v}" for k, v in stage_args]
    return "RUN " + " ".join([*prefix, *args]) + " # buildkit"
