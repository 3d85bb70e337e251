"""Rules about single instructions (hadolint): WORKDIR, USER, EXPOSE, ADD/COPY, CMD, ENV, ARG."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dockyard.lint.facts import Facts, Instr, unquote
from dockyard.lint.model import Hit, rule

_ABSOLUTE = re.compile(r"^(/|\$|[A-Za-z]:[\\/])")


def _of(facts: Facts, *keywords: str) -> Iterator[Instr]:
    for instr in facts.instrs:
        if instr.keyword in keywords and not instr.onbuild:
            yield instr


@rule("DL1001", "ignore", "an inline ignore pragma", "fix the finding instead of silencing it")
def dl1001(facts: Facts) -> Iterator[Hit]:
    for line in facts.pragmas.pragma_lines:
        yield Hit(line)


@rule("DL3000", "error", "WORKDIR with a relative path",
      "give WORKDIR an absolute path so it does not depend on the previous one")
def dl3000(facts: Facts) -> Iterator[Hit]:
    for instr in _of(facts, "workdir"):
        path = unquote(" ".join(instr.node.args))
        if not _ABSOLUTE.match(path):
            yield Hit(instr.line)


def _is_root(user: str) -> bool:
    return unquote(user).split(":", 1)[0] in ("root", "0")


@rule("DL3002", "warning", "the stage ends running as root",
      "add `USER <non-root user>` after the steps that need root")
def dl3002(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        users = [i for i in stage.instrs if i.keyword == "user" and not i.onbuild]
        if users and users[-1].node.args and _is_root(users[-1].node.args[0]):
            yield Hit(users[-1].line)


def _port_ok(text: str) -> bool:
    text = text.split("/", 1)[0]
    for part in text.split("-"):
        if "$" in part:
            continue
        if not part.isdigit() or not 0 <= int(part) <= 65535:
            return False
    return True


@rule("DL3011", "error", "EXPOSE of a port outside 0-65535", "use a valid port number")
def dl3011(facts: Facts) -> Iterator[Hit]:
    for instr in _of(facts, "expose"):
        if any(not _port_ok(unquote(p)) for p in instr.node.args):
            yield Hit(instr.line)


_ADD_ARCHIVE = re.compile(r"\.(tar|gz|bz2|xz|tgz|tbz|tbz2|txz|zst|lz|lzma|lz4|z|Z|tar\.\w+)$")


@rule("DL3020", "error", "ADD of local files or directories",
      "use COPY: ADD's URL and unpacking behaviour is only wanted for archives and URLs")
def dl3020(facts: Facts) -> Iterator[Hit]:
    for instr in _of(facts, "add"):
        if instr.node.heredocs:
            continue
        for src in instr.node.args[:-1]:
            src = unquote(src)
            if "://" in src or src.startswith("git@") or _ADD_ARCHIVE.search(src):
                continue
            yield Hit(instr.line)
            break


@rule("DL3021", "error", "COPY of several sources into a destination that is not a directory",
      "end the destination with `/`")
def dl3021(facts: Facts) -> Iterator[Hit]:
    for instr in _of(facts, "copy", "add"):
        args = instr.node.args
        if len(args) > 2 and not instr.node.heredocs and not unquote(args[-1]).endswith("/"):
            yield Hit(instr.line)


@rule("DL3025", "warning", "CMD / ENTRYPOINT in shell form",
      "write it as a JSON array so signals reach your process: CMD [\"app\", \"--flag\"]")
def dl3025(facts: Facts) -> Iterator[Hit]:
    for instr in _of(facts, "cmd", "entrypoint", "healthcheck"):
        node = instr.node
        if instr.keyword == "healthcheck" and (not node.args or node.args[0].upper() != "CMD"):
            continue
        if not node.json_form:
            yield Hit(instr.line)


@rule("DL3044", "error", "ENV refers to a variable set earlier in the same ENV",
      "the value is not visible yet: split it into two ENV instructions")
def dl3044(facts: Facts) -> Iterator[Hit]:
    from dockyard.lint.facts import variables_in

    for instr in _of(facts, "env"):
        defined: set[str] = set()
        for name, value, _ in instr.pairs:
            if defined & set(variables_in(value)):
                yield Hit(instr.line)
                break
            defined.add(name)


def _workdir_before(facts: Facts, instr: Instr) -> bool:
    stage = facts.stage_of(instr)
    if stage is None:
        return False
    for anc in facts.ancestry(stage):
        for other in anc.instrs:
            if other is instr:
                break
            if other.keyword == "workdir" and (not other.onbuild or instr.onbuild):
                return True
    return False


@rule("DL3045", "warning", "COPY to a relative path before any WORKDIR",
      "set WORKDIR first, or copy to an absolute path")
def dl3045(facts: Facts) -> Iterator[Hit]:
    for instr in _of(facts, "copy"):
        if not instr.node.args:
            continue
        dest = unquote(instr.node.args[-1])
        if _ABSOLUTE.match(dest) or _workdir_before(facts, instr):
            continue
        yield Hit(instr.line)


_LABEL_KEY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


def label_key_ok(key: str) -> bool:
    key = unquote(key)
    if key.startswith(("com.docker.", "io.docker.", "org.dockerproject.")):
        return False
    return bool(_LABEL_KEY.match(key)) and ".." not in key and "--" not in key and \
        not key[0].isdigit()  # fmt: skip


@rule("DL3048", "style", "a label key that breaks the naming convention",
      "use lower-case reverse-DNS keys (`org.example.key`) outside Docker's reserved namespaces")
def dl3048(facts: Facts) -> Iterator[Hit]:
    for instr in _of(facts, "label"):
        if any(not label_key_ok(name) for name, _, _ in instr.pairs):
            yield Hit(instr.line)


_SECRET_WORDS = {"apikey", "auth", "credential", "credentials", "key", "password", "pword",
                 "passwd", "secret", "token"}  # fmt: skip
_NOT_SECRET = {"public", "file", "path", "dir", "directory", "url", "id"}


def secret_name(name: str) -> bool:
    """True for names such as AWS_SECRET_ACCESS_KEY, openai_api_key, DB_PASSWORD."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    parts = [p.lower() for p in re.split(r"[_\-.]+", spaced) if p]
    if not parts:
        return False
    if any(p in _NOT_SECRET for p in parts[-1:]) and parts[-1] != "id":
        return False
    if parts[-1] in ("file", "path"):
        return False
    return any(p in _SECRET_WORDS for p in parts)


def _names(instr: Instr) -> list[str]:
    if instr.keyword == "env":
        return [name for name, _, _ in instr.pairs]
    return [w.split("=", 1)[0] for w in instr.node.args]


@rule("DL3064", "warning", "a secret-looking name in ARG or ENV",
      "values of ARG and ENV stay in the image history; pass secrets with `RUN --mount=type=secret`")
def dl3064(facts: Facts) -> Iterator[Hit]:
    for instr in _of(facts, "arg", "env"):
        if any(secret_name(n) for n in _names(instr)):
            yield Hit(instr.line)


@rule("DL3066", "info", "USER given as a name rather than a numeric id",
      "use a numeric `uid:gid` so tools outside the image can check it is not root")
def dl3066(facts: Facts) -> Iterator[Hit]:
    for instr in _of(facts, "user"):
        parts = unquote(" ".join(instr.node.args)).split(":")
        if any(p and not p.isdigit() and "$" not in p for p in parts):
            yield Hit(instr.line)


@rule("DL3067", "warning", "COPY of a whole stage's root filesystem",
      "copy only the files you need from the other stage")
def dl3067(facts: Facts) -> Iterator[Hit]:
    for instr in _of(facts, "copy"):
        args = [unquote(a) for a in instr.node.args]
        if instr.flag("from") and len(args) == 2 and args == ["/", "/"]:
            yield Hit(instr.line)


@rule("DL4000", "error", "the deprecated MAINTAINER instruction",
      "use `LABEL org.opencontainers.image.authors=\"...\"`")
def dl4000(facts: Facts) -> Iterator[Hit]:
    for instr in facts.instrs:
        if instr.keyword == "maintainer" and not instr.onbuild:
            yield Hit(instr.line)


def _repeated(facts: Facts, keyword: str) -> Iterator[Hit]:
    for stage in facts.stages:
        seen = False
        for instr in stage.instrs:
            if instr.keyword == keyword and not instr.onbuild:
                if seen:
                    yield Hit(instr.line)
                seen = True


@rule("DL3012", "error", "more than one HEALTHCHECK in a stage",
      "keep one: only the last HEALTHCHECK takes effect")
def dl3012(facts: Facts) -> Iterator[Hit]:
    return _repeated(facts, "healthcheck")


@rule("DL4003", "warning", "more than one CMD in a stage", "keep one: only the last CMD counts")
def dl4003(facts: Facts) -> Iterator[Hit]:
    return _repeated(facts, "cmd")


@rule("DL4004", "error", "more than one ENTRYPOINT in a stage",
      "keep one: only the last ENTRYPOINT counts")
def dl4004(facts: Facts) -> Iterator[Hit]:
    return _repeated(facts, "entrypoint")


@rule("DL3043", "error", "ONBUILD of an instruction that ONBUILD does not allow",
      "ONBUILD cannot trigger ONBUILD, FROM or MAINTAINER")
def dl3043(facts: Facts) -> Iterator[Hit]:
    for instr in facts.instrs:
        if instr.onbuild and instr.keyword in ("onbuild", "from", "maintainer"):
            yield Hit(instr.line)
