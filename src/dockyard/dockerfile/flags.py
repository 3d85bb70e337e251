"""Instruction `--flags` (BuildKit's BFlags): declared per instruction, parsed with Docker's
messages, and Go-compatible parsing of durations (`--interval=30s`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dockyard.dockerfile.errors import LocalError


def suggest(word: str, options: list[str]) -> str | None:
    """The closest option to a mistyped word (edit distance ≤ 2, or a case-only difference)."""
    best: tuple[int, str] | None = None
    low = word.lower()
    for option in options:
        distance = _levenshtein(low, option.lower())
        if distance <= max(2, len(word) // 3) and (best is None or distance < best[0]):
            best = (distance, option)
    return best[1] if best else None


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass
class FlagValues:
    """Parsed flag values; `used` lists the flags that were given."""

    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    used: list[str] = field(default_factory=list)

    def string(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def boolean(self, name: str) -> bool:
        return self.values.get(name) == "true"

    def strings(self, name: str) -> list[str]:
        return list(self.lists.get(name, []))


def parse_flags(
    flags: list[str],
    *,
    strings: tuple[str, ...] = (),
    bools: tuple[str, ...] = (),
    multi: tuple[str, ...] = (),
) -> FlagValues:
    """Check `--name[=value]` words against the declared flags; LocalError with Docker's text."""
    known = [*strings, *bools, *multi]
    out = FlagValues()
    for word in flags:
        if word == "--":
            break
        body = word[2:] if word.startswith("--") else word
        name, has_value, value = body.partition("=")
        if name not in known:
            hint = suggest(name, known)
            extra = f" (did you mean {hint}?)" if hint else ""
            raise LocalError(
                f"unknown flag: {name}{extra}",
                expected="one of " + ", ".join("--" + k for k in known) if known else "no flags",
                needle=word,
            )
        if name in out.used and name not in multi:
            raise LocalError(f"duplicate flag specified: {name}", needle=word)
        out.used.append(name)
        if name in bools:
            if has_value and value == "":
                raise LocalError(f"missing a value on flag: {name}", needle=word)
            low = value.lower()
            if low in ("", "true"):
                out.values[name] = "true"
            elif low == "false":
                out.values[name] = "false"
            else:
                raise LocalError(
                    f"expecting boolean value for flag {name}, not: {value}",
                    expected="true or false",
                    needle=word,
                )
        elif not has_value:
            raise LocalError(
                f"missing a value on flag: {name}", expected=f"--{name}=<value>", needle=word
            )
        elif name in multi:
            out.lists.setdefault(name, []).append(value)
        else:
            out.values[name] = value
    return out


_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_RE_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds (`1m30s`, `1.5h`, `0`)."""
    bad = LocalError(f'time: invalid duration "{text}"', expected="a duration such as 30s or 1m30s")
    s = text
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise bad
    total = 0.0
    pos = 0
    while pos < len(s):
        match = _RE_PART.match(s, pos)
        if not match or match.group(1) in ("", "."):
            raise bad
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * int(round(total))
