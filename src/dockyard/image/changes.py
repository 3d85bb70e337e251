"""`--change` for import/commit: apply simple Dockerfile instructions to an image's config dict.

A stop-gap parser: the real Dockerfile parser (dockyard.dockerfile) will replace
`apply_change` later; keep everything it does in this one module.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from dockyard.errors import InvalidArgument

ALLOWED = (
    "CMD ENTRYPOINT ENV EXPOSE LABEL ONBUILD USER VOLUME WORKDIR STOPSIGNAL HEALTHCHECK SHELL"
).split()
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$")
_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
       "h": 3600 * 10**9}


def _bad(change: str, why: str) -> InvalidArgument:
    return InvalidArgument(
        f"invalid --change {change!r}: {why}",
        hint="allowed instructions: " + ", ".join(ALLOWED),
    )


def _json_list(rest: str) -> list[str] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _command(rest: str, shell: list[str]) -> list[str]:
    exec_form = _json_list(rest)
    return exec_form if exec_form is not None else [*shell, rest]


def _pairs(change: str, rest: str) -> list[tuple[str, str]]:
    """`k=v k2="v 2"` or the legacy `k v` form of ENV and LABEL."""
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise _bad(change, str(exc)) from exc
    if not words:
        raise _bad(change, "missing arguments")
    if "=" not in words[0]:
        key, _, value = rest.partition(" ")
        return [(key, value.strip())]
    out = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise _bad(change, f"{word!r} is not KEY=VALUE")
        out.append((key, value))
    return out


def _duration_ns(change: str, text: str) -> int:
    total = 0
    for part in re.findall(r"\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)", text):
        m = _DURATION.match(part)
        assert m is not None
        total += int(float(m.group(1)) * _NS[m.group(2)])
    if not text or "".join(re.findall(r"\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h)", text)) != text:
        raise _bad(change, f"invalid duration {text!r}")
    return total


def _healthcheck(change: str, rest: str, shell: list[str]) -> dict[str, Any]:
    words = rest.split()
    opts: dict[str, Any] = {}
    keys = {"--interval": "Interval", "--timeout": "Timeout", "--start-period": "StartPeriod",
            "--start-interval": "StartInterval", "--retries": "Retries"}
    while words and words[0].startswith("--"):
        flag, _, value = words.pop(0).partition("=")
        if flag not in keys or not value:
            raise _bad(change, f"unknown or empty HEALTHCHECK option {flag}")
        if flag == "--retries":
            if not value.isdigit():
                raise _bad(change, f"invalid --retries {value!r}")
            opts["Retries"] = int(value)
        else:
            opts[keys[flag]] = _duration_ns(change, value)
    if not words:
        raise _bad(change, "HEALTHCHECK needs CMD or NONE")
    kind, cmd = words[0].upper(), rest[rest.index(words[0]) + len(words[0]) :].strip()
    if kind == "NONE":
        return {"Test": ["NONE"]}
    if kind != "CMD" or not cmd:
        raise _bad(change, "HEALTHCHECK needs CMD <command> or NONE")
    exec_form = _json_list(cmd)
    test = ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", cmd]
    return {"Test": test, **opts}


def apply_change(config: dict[str, Any], change: str) -> None:
    """Apply one instruction (e.g. `CMD ["sh"]`, `ENV A=1`) to a Docker container-config dict."""
    keyword, _, rest = change.strip().partition(" ")
    keyword, rest = keyword.upper(), rest.strip()
    if keyword not in ALLOWED:
        raise _bad(change, f"{keyword or 'empty'} is not allowed")
    if not rest:
        raise _bad(change, "missing arguments")
    shell = list(config.get("Shell") or ["/bin/sh", "-c"])
    if keyword in ("CMD", "ENTRYPOINT"):
        config["Cmd" if keyword == "CMD" else "Entrypoint"] = _command(rest, shell)
    elif keyword == "ENV":
        env = list(config.get("Env") or [])
        for key, value in _pairs(change, rest):
            env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
        config["Env"] = env
    elif keyword == "LABEL":
        labels = dict(config.get("Labels") or {})
        labels.update(_pairs(change, rest))
        config["Labels"] = labels
    elif keyword == "EXPOSE":
        ports = dict(config.get("ExposedPorts") or {})
        for port in rest.split():
            number, _, proto = port.partition("/")
            if not re.match(r"^\d+(-\d+)?$", number) or proto not in ("", "tcp", "udp", "sctp"):
                raise _bad(change, f"invalid port {port!r}")
            ports[f"{number}/{proto or 'tcp'}"] = {}
        config["ExposedPorts"] = ports
    elif keyword == "VOLUME":
        volumes = dict(config.get("Volumes") or {})
        for path in _json_list(rest) or rest.split():
            volumes[path] = {}
        config["Volumes"] = volumes
    elif keyword == "USER":
        config["User"] = rest
    elif keyword == "WORKDIR":
        config["WorkingDir"] = rest
    elif keyword == "STOPSIGNAL":
        config["StopSignal"] = rest
    elif keyword == "ONBUILD":
        config["OnBuild"] = [*(config.get("OnBuild") or []), rest]
    elif keyword == "SHELL":
        shell_form = _json_list(rest)
        if not shell_form:
            raise _bad(change, 'SHELL needs a JSON array, e.g. SHELL ["/bin/bash", "-c"]')
        config["Shell"] = shell_form
    elif keyword == "HEALTHCHECK":
        config["Healthcheck"] = _healthcheck(change, rest, shell)


def apply_changes(config: dict[str, Any], changes: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A copy of `config` with every change applied in order."""
    out = json.loads(json.dumps(config))
    for change in changes:
        apply_change(out, change)
    return out
