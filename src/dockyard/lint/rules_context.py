"""dockyard rules that need the build context: secrets a COPY would bake in, missing .dockerignore."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterator

from dockyard.lint.facts import Facts, unquote
from dockyard.lint.model import Hit, rule

SECRET_PATTERNS = (".env", ".env.*", "id_rsa", "id_rsa*", "id_dsa", "id_ecdsa", "id_ed25519",
                   "*.pem", "*.key", "*.p12", "*.pfx", ".netrc", ".npmrc", ".pypirc",
                   "credentials", ".git-credentials")  # fmt: skip
_NOT_SECRET = (".env.example", ".env.sample", ".env.template", "*.pub")
HEAVY = (".git", ".venv", "venv", "node_modules", "__pycache__", ".env")
_F = "dockyard"


def is_secret(path: str) -> bool:
    name = posixpath.basename(path.rstrip("/"))
    if path.endswith("/") or any(fnmatch.fnmatch(name, p) for p in _NOT_SECRET):
        return False
    return any(fnmatch.fnmatch(name, p) for p in SECRET_PATTERNS)


def _whole_copies(facts: Facts) -> list[tuple[int, str]]:
    """(line, source) of every COPY/ADD that copies a whole context directory."""
    out = []
    for instr in facts.instrs:
        if instr.keyword not in ("copy", "add") or instr.flag("from") is not None:
            continue
        for src in instr.node.args[:-1]:
            s = unquote(src).strip()
            whole = s in (".", "./")
            if not whole and facts.context is not None and not any(c in s for c in "*?[$"):
                whole = facts.context.is_dir(s)
            if whole:
                out.append((instr.line, s))
    return out


@rule("DY0005", "error", "a secret in the build context would be copied into the image",
      "add it to .dockerignore and pass it at build time with `--secret`", _F,
      needs_context=True)
def dy0005(facts: Facts) -> Iterator[Hit]:
    ctx = facts.context
    if ctx is None:
        return
    for line, src in _whole_copies(facts):
        prefix = "" if src in (".", "./") else src.strip("./").rstrip("/") + "/"
        leaked = [p for p in ctx.paths
                  if p.startswith(prefix) and is_secret(p) and not ctx.is_ignored(p)]  # fmt: skip
        if leaked:
            more = f" and {len(leaked) - 1} more" if len(leaked) > 1 else ""
            yield Hit(line, f"`COPY {src}` copies {leaked[0]}{more} into the image")


@rule("DY0006", "warning", "the build context holds large or private directories and no "
      ".dockerignore excludes them",
      "add a .dockerignore listing .git, .venv, node_modules, __pycache__ and .env", _F,
      needs_context=True)
def dy0006(facts: Facts) -> Iterator[Hit]:
    ctx = facts.context
    if ctx is None:
        return
    present = [h for h in HEAVY if ctx.has(h)]
    if not present:
        return
    if ctx.dockerignore is None:
        yield Hit(1, f"no .dockerignore, but the context holds {', '.join(present)}")
        return
    sent = [h for h in present if not ctx.is_ignored(h)]
    if sent:
        yield Hit(1, f".dockerignore does not exclude {', '.join(sent)}")
