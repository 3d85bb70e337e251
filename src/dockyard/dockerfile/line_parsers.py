"""Per-instruction argument parsers: how the text after the keyword becomes the node's args
(JSON or shell form, key/value pairs, whitespace-separated words, HEALTHCHECK's type word)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.dockerfile.dump import go_quote
from dockyard.dockerfile.errors import LocalError
from dockyard.dockerfile.words import RE_WHITESPACE, go_trim_left, parse_words


@dataclass
class Parsed:
    """What a line parser gives back; `sub` is set for ONBUILD's trigger line."""

    args: list[str] = field(default_factory=list)
    json_form: bool = False
    sub_line: str | None = None


def _reject_constant(name: str) -> float:
    raise ValueError(name)  # NaN / Infinity are not JSON in Go


def _fix_surrogates(s: str) -> str:
    if not any("\ud800" <= c <= "\udfff" for c in s):
        return s
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in s)


def parse_json(rest: str) -> list[str] | None:
    """A JSON array of strings, None when the text is not a JSON array, error for non-strings."""
    rest = go_trim_left(rest)
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    for item in value:
        if not isinstance(item, str):
            raise LocalError(
                "when using JSON array syntax, arrays must be comprised of strings only",
                expected='a JSON array of strings, e.g. ["executable", "param1"]',
            )
    return [_fix_surrogates(item) for item in value]


def parse_maybe_json(rest: str, escape: str) -> Parsed:
    if rest == "":
        return Parsed()
    values = parse_json(rest)
    if values is not None:
        return Parsed(values, json_form=True)
    return Parsed([rest])


def parse_strings_whitespace_delimited(rest: str, escape: str) -> Parsed:
    if rest == "":
        return Parsed()
    return Parsed(RE_WHITESPACE.split(rest))


def parse_maybe_json_to_list(rest: str, escape: str) -> Parsed:
    values = parse_json(rest)
    if values is not None:
        return Parsed(values, json_form=True)
    return parse_strings_whitespace_delimited(rest, escape)


def parse_string(rest: str, escape: str) -> Parsed:
    return Parsed([rest] if rest else [])


def parse_name_or_name_val(rest: str, escape: str) -> Parsed:
    return Parsed(parse_words(rest, escape))


def _parse_name_val(rest: str, key: str, escape: str) -> Parsed:
    words = parse_words(rest, escape)
    if not words:
        return Parsed()
    if "=" not in words[0]:
        parts = RE_WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise LocalError(
                f"{key} must have two arguments",
                expected=f"{key} <name>=<value> ... (or the legacy {key} <name> <value>)",
            )
        return Parsed([parts[0], parts[1], ""])
    args: list[str] = []
    for word in words:
        if "=" not in word:
            raise LocalError(
                f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value",
                expected="name=value",
                needle=word,
            )
        name, value = word.split("=", 1)
        args += [name, value, "="]
    return Parsed(args)


def parse_env(rest: str, escape: str) -> Parsed:
    return _parse_name_val(rest, "ENV", escape)


def parse_label(rest: str, escape: str) -> Parsed:
    return _parse_name_val(rest, "LABEL", escape)


def parse_sub_command(rest: str, escape: str) -> Parsed:
    if rest == "":
        return Parsed()
    return Parsed(sub_line=rest)


_ASCII_SPACE = "\t\n\v\f\r \x85\xa0"


def parse_health_config(rest: str, escape: str) -> Parsed:
    sep = 0
    while sep < len(rest) and rest[sep] not in _ASCII_SPACE:
        sep += 1
    nxt = sep
    while nxt < len(rest) and rest[nxt] in _ASCII_SPACE:
        nxt += 1
    if sep == 0:
        return Parsed()
    cmd = parse_maybe_json(rest[nxt:], escape)
    return Parsed([rest[:sep], *cmd.args], json_form=cmd.json_form)


def parse_ignore(rest: str, escape: str) -> Parsed:
    # BuildKit keeps unknown instructions with one empty argument; the instruction layer
    # reports them as unknown.
    return Parsed([""])


LineParser = Callable[[str, str], Parsed]

DISPATCH: dict[str, LineParser] = {
    "add": parse_maybe_json_to_list,
    "arg": parse_name_or_name_val,
    "cmd": parse_maybe_json,
    "copy": parse_maybe_json_to_list,
    "entrypoint": parse_maybe_json,
    "env": parse_env,
    "expose": parse_strings_whitespace_delimited,
    "from": parse_strings_whitespace_delimited,
    "healthcheck": parse_health_config,
    "label": parse_label,
    "maintainer": parse_string,
    "onbuild": parse_sub_command,
    "run": parse_maybe_json,
    "shell": parse_maybe_json,
    "stopsignal": parse_string,
    "user": parse_string,
    "volume": parse_maybe_json_to_list,
    "workdir": parse_string,
}
