"""BuildKit's build checks (`docker build --check`), under BuildKit's own rule names."""

from __future__ import annotations

import re
from collections.abc import Iterator

from dockyard.lint.facts import Facts, Instr, Stage, unquote, variables_in
from dockyard.lint.model import Hit, rule
from dockyard.lint.rules_instructions import secret_name
from dockyard.lint.rules_stages import _copy_froms

PLATFORM_ARGS = {"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT", "TARGETPLATFORM",
                 "TARGETOS", "TARGETARCH", "TARGETVARIANT", "TARGETSTAGE", "BUILDKIT_SYNTAX"}  # fmt: skip
PROXY_ARGS = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}  # fmt: skip
BASE_ENV = {"PATH", "HOME", "HOSTNAME", "TERM", "USER", "PWD", "SHELL"}
_FAMILY = "buildkit"


@rule("JSONArgsRecommended", "warning", "CMD/ENTRYPOINT in shell form",
      "use the JSON form so the process gets signals such as SIGTERM", _FAMILY,
      same_as="DL3025")
def json_args(facts: Facts) -> Iterator[Hit]:
    for instr in facts.instrs:
        if instr.keyword in ("cmd", "entrypoint") and not instr.node.json_form:
            stage = facts.stage_of(instr)
            if stage and any(i.keyword == "shell" for i in stage.instrs):
                continue  # a SHELL was chosen on purpose
            yield Hit(instr.line, f"{instr.keyword.upper()} in shell form: signals will not "
                                  "reach the program")


@rule("StageNameCasing", "warning", "a stage name that is not lower case",
      "write stage names in lower case", _FAMILY)
def stage_name_casing(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        if stage.name and stage.name != stage.name.lower() and stage.from_instr:
            yield Hit(stage.from_instr.line, f"stage name `{stage.name}` should be lower case")


@rule("FromAsCasing", "warning", "`FROM` and `AS` written in different cases",
      "write both upper case (or both lower case)", _FAMILY)
def from_as_casing(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        instr = stage.from_instr
        if instr is None or len(instr.node.args) < 3:
            continue
        keyword = getattr(instr.node, "raw_keyword", "") or instr.node.original.split()[0]
        as_word = instr.node.args[1]
        if (keyword.isupper() and as_word.islower()) or (keyword.islower() and as_word.isupper()):
            yield Hit(instr.line)


@rule("DuplicateStageName", "error", "two stages with the same name",
      "give every stage its own name", _FAMILY,
      same_as="DL3024")
def duplicate_stage(facts: Facts) -> Iterator[Hit]:
    seen: set[str] = set()
    for stage in facts.stages:
        if stage.alias and stage.from_instr:
            if stage.alias in seen:
                yield Hit(stage.from_instr.line, f"stage name `{stage.name}` is used twice")
            seen.add(stage.alias)


@rule("ReservedStageName", "error", "a stage named `scratch` or `context`",
      "rename the stage", _FAMILY,
      same_as="DL3063")
def reserved_stage(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        if stage.alias in ("scratch", "context") and stage.from_instr:
            yield Hit(stage.from_instr.line)


def _global_args(facts: Facts) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for instr in facts.preamble:
        for word in instr.node.args:
            name, sep, value = word.partition("=")
            out[name] = unquote(value) if sep else None
    return out


@rule("UndefinedArgInFrom", "warning", "FROM uses a variable no ARG above it declares",
      "declare it with `ARG NAME=default` before the first FROM", _FAMILY)
def undefined_arg_in_from(facts: Facts) -> Iterator[Hit]:
    known = set(_global_args(facts)) | PLATFORM_ARGS
    for stage in facts.stages:
        if stage.from_instr is None:
            continue
        words = [stage.image, *stage.from_instr.flag_values("platform")]
        for name in (v for w in words for v in variables_in(w)):
            if name not in known:
                yield Hit(stage.from_instr.line, f"FROM uses `${name}`, which no ARG declares")


_REF = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[a-z0-9]+:[a-f0-9]+)?$"
)


def _with_arg_defaults(image: str, args: dict[str, str | None]) -> str:
    """A FROM image with its `$VAR` / `${VAR:-default}` replaced by the global ARG defaults."""

    def sub(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref.startswith("{"):
            name, _, default = ref[1:-1].partition(":-")
            value = args.get(name)
            return value if value else default
        return args.get(ref) or ""

    return re.sub(r"\$(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)", sub, image)


@rule("InvalidDefaultArgInFrom", "warning", "FROM is not a valid image name with the ARG defaults",
      "give the ARG a default that makes a valid reference", _FAMILY)
def invalid_default_arg(facts: Facts) -> Iterator[Hit]:
    args = _global_args(facts)
    for stage in facts.stages:
        if stage.from_instr is None or "$" not in stage.image:
            continue

        image = _with_arg_defaults(stage.image, args)
        if facts.is_alias(image, before=stage.index) or image == "scratch":
            continue
        if not _REF.match(image):
            yield Hit(stage.from_instr.line, f"with the ARG defaults FROM names `{image}`, "
                                             "which is not a valid image reference")


@rule("MultipleInstructionsDisallowed", "warning",
      "CMD, ENTRYPOINT or HEALTHCHECK given more than once in a stage",
      "keep only one: the earlier ones have no effect", _FAMILY)
def multiple_instructions(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        seen: dict[str, Instr] = {}
        for instr in stage.instrs:
            if instr.onbuild or instr.keyword not in ("cmd", "entrypoint", "healthcheck"):
                continue
            if instr.keyword in seen:
                earlier = seen[instr.keyword]
                yield Hit(earlier.line, f"this {instr.keyword.upper()} is overridden on line "
                                        f"{instr.line}")
            seen[instr.keyword] = instr


@rule("WorkdirRelativePath", "warning", "a relative WORKDIR with no absolute WORKDIR before it",
      "use an absolute path: the base image decides what it is relative to", _FAMILY)
def workdir_relative(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        absolute = False
        for instr in stage.instrs:
            if instr.keyword != "workdir" or instr.onbuild:
                continue
            path = unquote(" ".join(instr.node.args))
            if path.startswith("/") or "$" in path or re.match(r"^[A-Za-z]:[\\/]", path):
                absolute = True
            elif not absolute:
                yield Hit(instr.line, f"WORKDIR `{path}` is relative")


@rule("SecretsUsedInArgOrEnv", "warning", "a secret-looking name in ARG or ENV",
      "pass secrets with `RUN --mount=type=secret`; ARG/ENV values stay in the image", _FAMILY,
      same_as="DL3064")
def secrets_in_arg_env(facts: Facts) -> Iterator[Hit]:
    for instr in facts.instrs:
        if instr.keyword == "env":
            names = [n for n, _, _ in instr.pairs]
        elif instr.keyword == "arg":
            names = [w.split("=", 1)[0] for w in instr.node.args]
        else:
            continue
        for name in names:
            if secret_name(name):
                yield Hit(instr.line, f"`{name}` looks like a secret")


@rule("MaintainerDeprecated", "warning", "the deprecated MAINTAINER instruction",
      "use `LABEL org.opencontainers.image.authors=...`", _FAMILY,
      same_as="DL4000")
def maintainer(facts: Facts) -> Iterator[Hit]:
    for instr in facts.instrs:
        if instr.keyword == "maintainer":
            yield Hit(instr.line)


def _raw_keyword(instr: Instr) -> str:
    node = instr.outer
    return getattr(node, "raw_keyword", "") or node.original.split(" ", 1)[0]


@rule("ConsistentInstructionCasing", "warning", "instructions written in mixed case",
      "write every instruction keyword in the same case (upper case is usual)", _FAMILY)
def consistent_casing(facts: Facts) -> Iterator[Hit]:
    words = [(_raw_keyword(i), i) for i in facts.instrs]
    upper = sum(1 for w, _ in words if w.isupper())
    lower = sum(1 for w, _ in words if w.islower())
    want_upper = upper >= lower
    for word, instr in words:
        if (want_upper and not word.isupper()) or (not want_upper and not word.islower()):
            case = "upper" if want_upper else "lower"
            yield Hit(instr.line, f"`{word}` should be {case} case like the others")


@rule("LegacyKeyValueFormat", "warning", "`ENV key value` / `LABEL key value` legacy form",
      "write `key=value`", _FAMILY)
def legacy_key_value(facts: Facts) -> Iterator[Hit]:
    for instr in facts.instrs:
        if instr.keyword in ("env", "label") and any(not kv for _, _, kv in instr.pairs):
            yield Hit(instr.line, f"{instr.keyword.upper()} uses the legacy `key value` form")


def _fixed_platform(stage: Stage) -> str | None:
    if stage.from_instr is None:
        return None
    value = stage.from_instr.flag("platform")
    if value is None or "$" in value:
        return None
    return unquote(value)


@rule("FromPlatformFlagConstDisallowed", "warning", "FROM --platform with a constant value",
      "use $BUILDPLATFORM/$TARGETPLATFORM, or name the stage after the platform", _FAMILY,
      same_as="DL3029")
def from_platform_const(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        value = _fixed_platform(stage)
        if value is None:
            continue
        parts = {p for p in re.split(r"[/,]", value) if p}
        if stage.alias and any(p in stage.alias for p in parts):
            continue
        assert stage.from_instr is not None
        yield Hit(stage.from_instr.line, f"FROM --platform is fixed to `{value}`")


@rule("RedundantTargetPlatform", "warning", "FROM --platform=$TARGETPLATFORM is the default",
      "drop the flag", _FAMILY,
      same_as="DL3065")
def redundant_target_platform(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        if stage.from_instr is None:
            continue
        value = stage.from_instr.flag("platform")
        if value is not None and unquote(value) in ("$TARGETPLATFORM", "${TARGETPLATFORM}"):
            yield Hit(stage.from_instr.line)


def _declared(instr: Instr) -> set[str]:
    if instr.keyword == "arg":
        return {w.split("=", 1)[0] for w in instr.node.args}
    if instr.keyword == "env":
        return {n for n, _, _ in instr.pairs}
    return set()


_EXPANDED = {"add", "copy", "env", "expose", "label", "stopsignal", "user", "volume", "workdir",
             "arg", "onbuild"}  # fmt: skip


@rule("UndefinedVar", "warning", "a variable no ARG or ENV defines",
      "declare it with ARG or ENV first, or fix a typo", _FAMILY)
def undefined_var(facts: Facts) -> Iterator[Hit]:
    at_end: dict[int, set[str]] = {}
    for stage in facts.stages:
        known = set(BASE_ENV | PROXY_ARGS)
        if stage.parent is not None:
            known |= at_end.get(stage.parent, set())
        else:
            known |= _base_image_env(facts, stage)
        for instr in stage.instrs:
            if instr.onbuild:
                continue
            if instr.keyword in _EXPANDED:
                yield from _undefined_in(instr, known)
            known |= _declared(instr)
        at_end[stage.index] = known


def _base_image_env(facts: Facts, stage: Stage) -> set[str]:
    """Names the base image's own ENV sets, when the caller can look the image up."""
    ctx = facts.context
    if ctx is None or ctx.base_env is None or stage.from_instr is None:
        return set()
    image = _with_arg_defaults(stage.image, _global_args(facts))
    if not image or image == "scratch" or "$" in image:
        return set()
    return {entry.partition("=")[0] for entry in ctx.base_env(image) or []}


def _undefined_in(instr: Instr, known: set[str]) -> Iterator[Hit]:
    words = list(instr.node.args) + [f.partition("=")[2] for f in instr.node.flags]
    if instr.keyword in ("env", "label"):
        words = [v for _, v, _ in instr.pairs]
    elif instr.keyword == "arg":
        words = [w.partition("=")[2] for w in instr.node.args]
    reported: set[str] = set()
    for word in words:
        if word.startswith("'"):
            continue
        for name in variables_in(word):
            if name not in known and name not in reported:
                reported.add(name)
                yield Hit(instr.line, f"`${name}` is not defined by any ARG or ENV above")


@rule("CopyIgnoredFile", "warning", "COPY/ADD of a path the .dockerignore excludes",
      "remove the pattern from .dockerignore, or stop copying the path", _FAMILY,
      needs_context=True)
def copy_ignored(facts: Facts) -> Iterator[Hit]:
    ctx = facts.context
    if ctx is None or not ctx.dockerignore:
        return
    from_stage = {id(i) for i, _ in _copy_froms(facts)}
    for instr in facts.instrs:
        if instr.keyword not in ("copy", "add") or id(instr) in from_stage:
            continue
        if instr.node.heredocs:
            continue
        for src in instr.node.args[:-1]:
            path = unquote(src).lstrip("./") if unquote(src) not in (".", "./") else ""
            if not path or "://" in path or any(c in path for c in "*?[$"):
                continue
            if ctx.is_ignored(path):
                yield Hit(instr.line, f"`{src}` is excluded by .dockerignore, so COPY fails "
                                      "or copies nothing")
