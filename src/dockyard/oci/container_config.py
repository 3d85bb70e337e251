"""The `config` object of an image config: Docker's container.Config / OCI ImageConfig + Healthcheck."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from dockyard.errors import InvalidArgument
from dockyard.oci._json import expect, int_field, sorted_map
from dockyard.records import FrozenRecord

Style = Literal["oci", "moby"]

# (attribute, JSON key, kind, omitempty in moby's container.Config) in moby's field order.
_MOBY_FIELDS: tuple[tuple[str, str, str, bool], ...] = (
    ("hostname", "Hostname", "str", False),
    ("domainname", "Domainname", "str", False),
    ("user", "User", "str", False),
    ("attach_stdin", "AttachStdin", "bool", False),
    ("attach_stdout", "AttachStdout", "bool", False),
    ("attach_stderr", "AttachStderr", "bool", False),
    ("exposed_ports", "ExposedPorts", "set", True),
    ("tty", "Tty", "bool", False),
    ("open_stdin", "OpenStdin", "bool", False),
    ("stdin_once", "StdinOnce", "bool", False),
    ("env", "Env", "list", False),
    ("cmd", "Cmd", "strslice", False),
    ("healthcheck", "Healthcheck", "health", True),
    ("args_escaped", "ArgsEscaped", "bool", True),
    ("image", "Image", "str", False),
    ("volumes", "Volumes", "set", False),
    ("working_dir", "WorkingDir", "str", False),
    ("entrypoint", "Entrypoint", "strslice", False),
    ("network_disabled", "NetworkDisabled", "bool", True),
    ("mac_address", "MacAddress", "str", True),
    ("on_build", "OnBuild", "list", False),
    ("labels", "Labels", "map", False),
    ("stop_signal", "StopSignal", "str", True),
    ("stop_timeout", "StopTimeout", "int", True),
    ("shell", "Shell", "strslice", True),
)
# OCI ImageConfig followed by Docker's extension (moby/docker-image-spec), all omitempty.
_OCI_ORDER = (
    "user", "exposed_ports", "env", "entrypoint", "cmd", "volumes", "working_dir", "labels",
    "stop_signal", "args_escaped", "healthcheck", "on_build", "shell",
)
_BY_ATTR = {f[0]: f for f in _MOBY_FIELDS}
_BY_KEY = {f[1]: f for f in _MOBY_FIELDS}
_MOBY_ONLY = tuple(a for a, *_ in _MOBY_FIELDS if a not in _OCI_ORDER)
# keys only moby's container.Config writes unconditionally: their presence marks the moby style
_MOBY_MARKERS = {"Hostname", "Domainname", "AttachStdin", "Tty", "OpenStdin", "StdinOnce", "Image"}

_HEALTH_FIELDS = (
    ("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
    ("start_interval", "StartInterval"), ("retries", "Retries"),
)


class HealthConfig(FrozenRecord):
    """HEALTHCHECK settings; durations are integer nanoseconds, 0 means "inherit"."""

    _uncompared = ("extra",)

    def __init__(
        self,
        test: tuple[str, ...] | None = None,  # () inherit, ("NONE",), ("CMD", ...), ("CMD-SHELL", cmd)
        interval: int = 0, timeout: int = 0, start_period: int = 0, start_interval: int = 0,
        retries: int = 0, extra: dict[str, Any] | None = None,
    ) -> None:
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.start_period = start_period
        self.start_interval = start_interval
        self.retries = retries
        self.extra: dict[str, Any] = {} if extra is None else extra

    @property
    def disabled(self) -> bool:
        return bool(self.test) and self.test[0] == "NONE"  # type: ignore[index]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.test:
            out["Test"] = list(self.test)
        for attr, key in _HEALTH_FIELDS:
            if getattr(self, attr):
                out[key] = getattr(self, attr)
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, obj: Any) -> HealthConfig:
        what = "image config Healthcheck"
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{what} must be a JSON object")
        test = _strslice(obj, "Test", what)
        values = {attr: int_field(obj, key, what) or 0 for attr, key in _HEALTH_FIELDS}
        known = {"Test"} | {key for _, key in _HEALTH_FIELDS}
        return cls(test=test, extra={k: v for k, v in obj.items() if k not in known}, **values)


def _strings(value: Sequence[str] | None, name: str) -> tuple[str, ...] | None:
    """A list field as a tuple (None stays None: absent and empty differ, see ContainerConfig)."""
    if value is None or isinstance(value, tuple):
        return value
    if isinstance(value, str):
        raise TypeError(f"ContainerConfig.{name} must be a sequence of strings")
    return tuple(value)


def _set_map(value: Iterable[str] | dict[str, Any] | None) -> dict[str, Any] | None:
    """Docker's set of ports or volumes: {name: {}} (a list of names is turned into one)."""
    if value is None or isinstance(value, dict):
        return value
    return {k: {} for k in value}


def _strslice(obj: dict[str, Any], key: str, what: str) -> tuple[str, ...] | None:
    """Docker's StrSlice: a list of strings, or one string meaning a one-element list."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InvalidArgument(f"{what}: field {key!r} must be a list of strings")


class ContainerConfig(FrozenRecord):
    """Runtime defaults an image carries (ENV, CMD, ENTRYPOINT, USER, WORKDIR, LABEL, ...).

    Lists and maps are None when absent and empty when present-but-empty; moby writes that
    difference (`null` vs `[]`), OCI/BuildKit omits both. `style` picks the encoding:
    "oci" (BuildKit, `docker build` since 23: OCI ImageConfig + Healthcheck/OnBuild/Shell, every
    field omitempty) or "moby" (the classic builder's container.Config, zero values written).
    Lists given as other sequences become tuples, port and volume lists {name: {}} maps.
    """

    _uncompared = ("extra",)

    def __init__(
        self,
        user: str = "",
        exposed_ports: Iterable[str] | dict[str, Any] | None = None,  # {"80/tcp": {}}
        env: Sequence[str] | None = None,
        entrypoint: Sequence[str] | None = None,
        cmd: Sequence[str] | None = None,
        volumes: Iterable[str] | dict[str, Any] | None = None,  # {"/data": {}}
        working_dir: str = "",
        labels: dict[str, str] | None = None,
        stop_signal: str = "",
        args_escaped: bool = False,
        healthcheck: HealthConfig | None = None,
        on_build: Sequence[str] | None = None,
        shell: Sequence[str] | None = None,
        hostname: str = "",
        domainname: str = "",
        attach_stdin: bool = False,
        attach_stdout: bool = False,
        attach_stderr: bool = False,
        tty: bool = False,
        open_stdin: bool = False,
        stdin_once: bool = False,
        image: str = "",
        network_disabled: bool = False,
        mac_address: str = "",
        stop_timeout: int | None = None,
        style: Style = "oci",
        extra: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.user = user
        self.exposed_ports = _set_map(exposed_ports)
        self.env = _strings(env, "env")
        self.entrypoint = _strings(entrypoint, "entrypoint")
        self.cmd = _strings(cmd, "cmd")
        self.volumes = _set_map(volumes)
        self.working_dir = working_dir
        self.labels = labels
        self.stop_signal = stop_signal
        self.args_escaped = args_escaped
        self.healthcheck = healthcheck
        self.on_build = _strings(on_build, "on_build")
        self.shell = _strings(shell, "shell")
        self.hostname = hostname
        self.domainname = domainname
        self.attach_stdin = attach_stdin
        self.attach_stdout = attach_stdout
        self.attach_stderr = attach_stderr
        self.tty = tty
        self.open_stdin = open_stdin
        self.stdin_once = stdin_once
        self.image = image
        self.network_disabled = network_disabled
        self.mac_address = mac_address
        self.stop_timeout = stop_timeout
        self.style: Style = style
        self.extra: dict[str, Any] = {} if extra is None else extra

    # -- views ---------------------------------------------------------------------------

    def env_dict(self) -> dict[str, str]:
        """Env as a mapping (an entry without `=` maps to "")."""
        out: dict[str, str] = {}
        for entry in self.env or ():
            key, _, value = entry.partition("=")
            out[key] = value
        return out

    def get_env(self, key: str, default: str | None = None) -> str | None:
        return self.env_dict().get(key, default)

    # -- edits ---------------------------------------------------------------------------

    def with_env(self, **values: str) -> ContainerConfig:
        """Set variables: existing ones keep their position, new ones are appended (as ENV does)."""
        entries = list(self.env or ())
        for key, value in values.items():
            for i, entry in enumerate(entries):
                if entry.partition("=")[0] == key:
                    entries[i] = f"{key}={value}"
                    break
            else:
                entries.append(f"{key}={value}")
        return self.replace(env=tuple(entries))

    def with_labels(self, **values: str) -> ContainerConfig:
        return self.replace(labels={**(self.labels or {}), **values})

    def to_oci_style(self) -> ContainerConfig:
        """What BuildKit keeps of a base image's config: moby-only fields dropped."""
        cleared: dict[str, Any] = {
            attr: (None if attr == "stop_timeout" else type(getattr(self, attr))())
            for attr in _MOBY_ONLY
        }
        return self.replace(style="oci", **cleared)

    # -- JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.style == "moby":
            for attr, key, kind, omitempty in _MOBY_FIELDS:
                value = getattr(self, attr)
                if omitempty and _empty(value, kind):
                    continue
                out[key] = _encode(value, kind)
        else:
            order = _OCI_ORDER + _MOBY_ONLY
            for attr in order:
                _, key, kind, _ = _BY_ATTR[attr]
                value = getattr(self, attr)
                if not _empty(value, kind):
                    out[key] = _encode(value, kind)
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_dict(cls, obj: Any) -> ContainerConfig:
        what = "image config"
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{what}: field 'config' must be a JSON object")
        values: dict[str, Any] = {}
        for key, (attr, _, kind, _) in _BY_KEY.items():
            if key in obj:
                value = _decode(obj, key, kind, what)
                if value is not None or attr in _NULLABLE:
                    values[attr] = value
        style: Style = "moby" if _MOBY_MARKERS & obj.keys() else "oci"
        extra = {k: v for k, v in obj.items() if k not in _BY_KEY}
        return cls(style=style, extra=extra, **values)


_NULLABLE = {
    "exposed_ports", "env", "entrypoint", "cmd", "volumes", "labels", "healthcheck",
    "on_build", "shell", "stop_timeout",
}


def _empty(value: Any, kind: str) -> bool:
    """Go's omitempty: nil, "", false, 0 and empty slices/maps; a non-nil pointer never."""
    if value is None:
        return True
    if kind in ("health", "int"):
        return False  # pointers in Go
    return not value


def _encode(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind in ("list", "strslice"):
        return list(value)
    if kind in ("map", "set"):
        return sorted_map(value)
    if kind == "health":
        return value.to_dict()
    return value


def _decode(obj: dict[str, Any], key: str, kind: str, what: str) -> Any:
    if kind == "str":
        return expect(obj, key, str, what)
    if kind == "bool":
        return expect(obj, key, bool, what)
    if kind == "int":
        return int_field(obj, key, what)
    if kind == "strslice":
        return _strslice(obj, key, what)
    if kind == "list":
        value = expect(obj, key, list, what)
        if value is not None and not all(isinstance(v, str) for v in value):
            raise InvalidArgument(f"{what}: field {key!r} must be a list of strings")
        return tuple(value) if value is not None else None
    if kind == "health":
        value = obj.get(key)
        return HealthConfig.from_dict(value) if value is not None else None
    value = expect(obj, key, dict, what)
    if kind == "map" and value is not None and not all(isinstance(v, str) for v in value.values()):
        raise InvalidArgument(f"{what}: field {key!r} must map strings to strings")
    return dict(value) if value is not None else None
