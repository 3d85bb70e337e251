"""Command options as plain data, and a click-free parser for them (the fast entry's).

A hot command (`run`) declares its options once, here, as `Opt` rows. cmd_*.py turns the rows
into click options (help, the full CLI); cli/fastpath.py parses argv with `parse` without
importing click, which alone costs 30-40 ms of a 100 ms `run` on these machines. `parse`
accepts only what it understands exactly as click would and returns None for anything else
(`--help`, an unknown option, a missing or badly typed value), so click then takes the
argument list and gives its usual answer or error. tests/unit/cli/test_optspec.py checks that
both parsers give the same values for the same argument lists.
"""

from __future__ import annotations

from typing import Any, NamedTuple

FLAG, VALUE, MULTI = "flag", "value", "multi"


class Opt(NamedTuple):
    """One option: its spellings (`-p`, `--publish`), the keyword it fills, its kind and type."""

    names: tuple[str, ...]
    dest: str
    kind: str = VALUE  # FLAG (True when given), VALUE (last one wins), MULTI (a tuple of all)
    help: str = ""
    type: type = str  # str, int or float (VALUE only)
    default: Any = None  # VALUE only: what click passes when the option is not given
    choices: tuple[str, ...] = ()  # VALUE only: the allowed values, if limited


def defaults(opts: list[Opt]) -> dict[str, Any]:
    """Every option's value when it is not given, as click passes it."""
    return {o.dest: False if o.kind == FLAG else () if o.kind == MULTI else o.default for o in opts}


def parse(
    opts: list[Opt], args: list[str], nargs_min: int = 1, interspersed: bool = False
) -> tuple[dict[str, Any], list[str]] | None:
    """(keywords, positionals) of `args`, or None.

    Options come first (`run IMAGE CMD --flag` gives CMD its flag) unless `interspersed`
    (`build . -t x`), as click's `allow_interspersed_args`. Handles what click handles for
    these kinds: `--name v`, `--name=v`, `-n v`, `-nv`, grouped short flags (`-it`,
    `-dp 80:80`), `--` ending the options. None means "let click decide".
    """
    by_name = {n: o for o in opts for n in o.names}
    kw = defaults(opts)
    before: list[str] = []  # positionals met among the options (interspersed only)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            if interspersed:
                before.append(arg)
                i += 1
                continue
            break
        if arg.startswith("--"):
            name, eq, inline = arg.partition("=")
            opt = by_name.get(name)
            if opt is None or (opt.kind == FLAG and eq):
                return None
            if opt.kind == FLAG:
                kw[opt.dest] = True
                i += 1
                continue
            if eq:
                value, i = inline, i + 1
            elif i + 1 < len(args):
                value, i = args[i + 1], i + 2
            else:
                return None
            if not _store(kw, opt, value):
                return None
            continue
        j = 1  # a group of short options: flags, then at most one that takes a value
        while j < len(arg):
            opt = by_name.get("-" + arg[j])
            if opt is None:
                return None
            if opt.kind == FLAG:
                kw[opt.dest] = True
                j += 1
                continue
            rest = arg[j + 1 :]
            if rest:
                value, step = rest, 1
            elif i + 1 < len(args):
                value, step = args[i + 1], 2
            else:
                return None
            if not _store(kw, opt, value):
                return None
            i += step - 1
            break
        i += 1
    positionals = before + args[i:]
    if len(positionals) < nargs_min:
        return None
    return kw, positionals


def _store(kw: dict[str, Any], opt: Opt, value: str) -> bool:
    """Put `value` in `kw` as click would; False if it does not convert to the option's type."""
    if opt.kind == MULTI:
        kw[opt.dest] = (*kw[opt.dest], value)
        return True
    if opt.choices and value not in opt.choices:
        return False
    try:
        kw[opt.dest] = opt.type(value)
    except ValueError:
        return False
    if opt.type is float and kw[opt.dest] != kw[opt.dest]:  # click refuses NaN: let it say so
        return False
    return True
