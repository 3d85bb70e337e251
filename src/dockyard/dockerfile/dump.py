"""Print a parsed Dockerfile in the format of BuildKit's parser `result` files (Go strconv.Quote)."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.dockerfile.ast import Node, ParseResult

_CONTROL = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def _is_print(ch: str) -> bool:
    """Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space."""
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in "LMNPS"


def go_quote(s: str) -> str:
    """Go's strconv.Quote. Lone surrogates U+DC80..U+DCFF stand for undecodable bytes (\\xNN)."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in _CONTROL:
            out.append(_CONTROL[ch])
        elif code < 0x80:
            out.append(ch if 0x20 <= code < 0x7F else f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif _is_print(ch):
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def dump_node(node: Node) -> str:
    """One instruction as `keyword ["--flag"] "arg" ...` (without the surrounding parentheses)."""
    parts = [node.keyword.lower()]
    if node.flags:
        parts.append("[" + " ".join(go_quote(f) for f in node.flags) + "]")
    parts.extend(go_quote(a) for a in node.args)
    if node.sub is not None:
        parts.append("(" + dump_node(node.sub) + ")")
    return " ".join(parts).strip()


def dump_result(result: ParseResult) -> str:
    """Every top-level instruction on its own line, in source order; no trailing newline."""
    return "\n".join("(" + dump_node(child) + ")" for child in result.children)
