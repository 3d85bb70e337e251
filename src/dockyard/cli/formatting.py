"""Docker's CLI output helpers: human sizes and times (go-units), tables, simple Go templates."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from dockyard.errors import InvalidArgument

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3) -> str:
    """go-units HumanSizeWithPrecision: decimal units, `precision` significant digits ("7.05MB")."""
    size = float(size)
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{_DECIMAL[i]}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration: "Less than a second", "About a minute", "2 hours", "3 weeks"."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def time_ago(timestamp: float | None, now: float | None = None) -> str:
    """"2 hours ago" as docker prints CREATED; "N/A" when unknown."""
    if timestamp is None:
        return "N/A"
    now = time.time() if now is None else now
    return human_duration(max(0.0, now - timestamp)) + " ago"


def go_time(timestamp: float | None) -> str:
    """Go's time.Time String() in local time: "2024-01-02 15:04:05 +0000 UTC"."""
    if timestamp is None:
        return ""
    dt = datetime.fromtimestamp(int(timestamp)).astimezone()
    return dt.strftime("%Y-%m-%d %H:%M:%S %z ") + (dt.tzname() or "")


def ellipsis(text: str, width: int) -> str:
    """Docker's formatter.Ellipsis: cut to `width` characters, the last one "…"."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return text[: width - 1] + "…"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Docker's tabwriter layout (minwidth 10, padding 3; the last column unpadded)."""
    lines = [list(headers), *[list(r) for r in rows]]
    ncols = len(headers)
    widths = [0] * ncols
    for line in lines:
        for i, cell in enumerate(line[:-1]):
            widths[i] = max(widths[i], len(cell) + 3, 10)
    out = []
    for line in lines:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])]
        out.append(("".join(cells) + line[-1]).rstrip())
    return "\n".join(out)


_ACTION = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def _lookup(obj: Any, path: str) -> Any:
    if path == ".":
        return obj
    value = obj
    for part in path.lstrip(".").split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif value is not None and hasattr(value, part):
            value = getattr(value, part)
        else:
            raise InvalidArgument(
                f"template: can't evaluate field {part}",
                hint="see the command's --help for the fields a template can use",
            )
    return value


def _show(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_show(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


_FUNCS: dict[str, Callable[[Any], str]] = {
    "json": lambda v: json.dumps(v, separators=(",", ":")),
    "upper": lambda v: str(v).upper(),
    "lower": lambda v: str(v).lower(),
    "println": lambda v: _show(v) + "\n",
}


def render_template(template: str, obj: Any) -> str:
    """A small subset of Go's text/template: `{{.A.B}}`, `{{json .X}}`, `{{upper .X}}`."""
    template = template.replace("\\t", "\t").replace("\\n", "\n")
    if "{{" in _ACTION.sub("", template):
        raise InvalidArgument(
            "template parsing error: unclosed action (a `{{` without its `}}`)",
            hint="close every action, e.g. --format '{{.ID}}'",
        )

    def action(m: re.Match[str]) -> str:
        words = m.group(1).split()
        if len(words) == 1 and words[0].startswith("."):
            return _show(_lookup(obj, words[0]))
        if len(words) == 2 and words[0] in _FUNCS and words[1].startswith("."):
            return _FUNCS[words[0]](_lookup(obj, words[1]))
        raise InvalidArgument(
            f"template: unsupported action {{{{{m.group(1)}}}}}",
            hint="use {{.Field}}, {{json .Field}}, {{upper .Field}} or {{lower .Field}}",
        )

    return _ACTION.sub(action, template)


def template_fields(template: str) -> list[str]:
    """The field names a table template shows, in order (for its header row)."""
    return [m.group(1).split()[-1].lstrip(".") for m in _ACTION.finditer(template)]


def format_rows(
    fmt: str, rows: Sequence[Mapping[str, Any]], headers: Mapping[str, str]
) -> str:
    """Render `--format`: "json" (one object per line), "table ..." or a plain template."""
    if fmt == "json":
        return "\n".join(json.dumps(dict(r), separators=(",", ":")) for r in rows)
    if fmt.startswith("table"):
        body = fmt[len("table") :].strip() or "\t".join(f"{{{{.{h}}}}}" for h in headers)
        body = body.replace("\\t", "\t")
        cols = body.split("\t")
        head = [
            headers.get(template_fields(c)[0], template_fields(c)[0].upper())
            if template_fields(c)
            else c
            for c in cols
        ]
        table_rows = [[render_template(c, r) for c in cols] for r in rows]
        return render_table(head, table_rows)
    return "\n".join(render_template(fmt, r) for r in rows)
