"""Rules about FROM, stages and the images they name (hadolint DL3006/3007/3022-3026 and kin)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from dockyard.lint.facts import Facts, Instr, Stage, mounts, unquote
from dockyard.lint.model import Hit, rule


def split_image(image: str) -> tuple[str, str, str]:
    """(registry, tag, digest) of an image reference; registry "docker.io" when none is named."""
    rest, _, digest = image.partition("@")
    first, slash, remainder = rest.partition("/")
    registry = "docker.io"
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry = first
        rest = remainder
    last = rest.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    return registry, tag, digest


def _external(facts: Facts, stage: Stage) -> bool:
    """True when the stage's image is a real image (not scratch, a variable or a stage name)."""
    image = stage.image
    if not image or image == "scratch" or "$" in image:
        return False
    return not facts.is_alias(image, before=stage.index)


@rule("DL3006", "warning", "base image without a tag",
      "name a version, e.g. `FROM python:3.12-slim`, so rebuilds use the same base")
def dl3006(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        if stage.from_instr and _external(facts, stage):
            _, tag, digest = split_image(stage.image)
            if not tag and not digest:
                yield Hit(stage.from_instr.line)


@rule("DL3007", "warning", "base image tagged `latest`",
      "pin a release tag (or a digest): `latest` changes under you")
def dl3007(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        if stage.from_instr and _external(facts, stage):
            _, tag, digest = split_image(stage.image)
            if tag == "latest" and not digest:
                yield Hit(stage.from_instr.line)


def _copy_froms(facts: Facts) -> Iterator[tuple[Instr, str]]:
    for instr in facts.instrs:
        if instr.keyword in ("copy", "add") and not instr.onbuild:
            source = instr.flag("from")
            if source:
                yield instr, unquote(source)


@rule("DL3022", "warning", "COPY --from names a stage that is not defined before it",
      "define the stage (`FROM ... AS name`) above this line, or fix the name")
def dl3022(facts: Facts) -> Iterator[Hit]:
    for instr, source in _copy_froms(facts):
        if source.isdigit():
            stage = facts.stage_of(instr)
            defined = instr.stage + 1 if stage is not None and stage.from_instr else instr.stage
            if int(source) >= max(defined, 0):
                yield Hit(instr.line)
        elif ":" in source or "/" in source or "$" in source:
            continue
        elif not facts.is_alias(source, before=instr.stage + 1):
            yield Hit(instr.line)


@rule("DL3023", "error", "COPY --from names its own stage",
      "copy from an earlier stage: a stage cannot read its own result")
def dl3023(facts: Facts) -> Iterator[Hit]:
    for instr, source in _copy_froms(facts):
        stage = facts.stage_of(instr)
        if stage is not None and stage.alias == source.lower():
            yield Hit(instr.line)


@rule("DL3024", "error", "two stages with the same name", "give every stage its own name")
def dl3024(facts: Facts) -> Iterator[Hit]:
    seen: set[str] = set()
    for stage in facts.stages:
        if stage.alias and stage.from_instr:
            if stage.alias in seen:
                yield Hit(stage.from_instr.line)
            seen.add(stage.alias)


_DOCKER_HUB = {"docker.io", "index.docker.io", "registry-1.docker.io", "hub.docker.com"}


def _trusted(registry: str, trusted: list[str]) -> bool:
    names = {registry} | (_DOCKER_HUB if registry in _DOCKER_HUB else set())
    return any(fnmatch.fnmatch(n, t) for t in trusted for n in names)


@rule("DL3026", "error", "an image from a registry that is not in the trusted list",
      "use an image from a trusted registry, or add the registry to `trustedRegistries`")
def dl3026(facts: Facts) -> Iterator[Hit]:
    trusted = facts.config.trusted_registries
    if not trusted:
        return
    for stage in facts.stages:
        if stage.from_instr and _external(facts, stage):
            if not _trusted(split_image(stage.image)[0], trusted):
                yield Hit(stage.from_instr.line)
    for instr, source in _copy_froms(facts):
        if (":" in source or "/" in source) and not _trusted(split_image(source)[0], trusted):
            yield Hit(instr.line)
    for instr in facts.instrs:
        for mount in mounts(instr) if instr.keyword == "run" else []:
            source = mount.get("from", "")
            if source and not facts.is_alias(source) and not source.isdigit():
                if not _trusted(split_image(source)[0], trusted):
                    yield Hit(instr.line)


def _platform(stage: Stage) -> str | None:
    if stage.from_instr is None:
        return None
    value = stage.from_instr.flag("platform")
    return None if value is None else unquote(value)


@rule("DL3029", "warning", "FROM with a fixed --platform",
      "leave the platform to the build (`--platform` on the command line) or use $BUILDPLATFORM")
def dl3029(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        value = _platform(stage)
        if value is None or "BUILDPLATFORM" in value or "TARGETPLATFORM" in value:
            continue
        assert stage.from_instr is not None
        yield Hit(stage.from_instr.line)


@rule("DL3065", "warning", "FROM --platform=$TARGETPLATFORM says what is already the default",
      "drop the flag")
def dl3065(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        if _platform(stage) in ("$TARGETPLATFORM", "${TARGETPLATFORM}"):
            assert stage.from_instr is not None
            yield Hit(stage.from_instr.line)


@rule("DL3061", "error", "an instruction before the first FROM",
      "start the Dockerfile with FROM (only ARG may come before it)")
def dl3061(facts: Facts) -> Iterator[Hit]:
    for node in facts.result.children:
        if node.keyword == "from":
            return
        if node.keyword != "arg":
            yield Hit(node.start_line)


@rule("DL3063", "warning", "a stage named with a reserved word",
      "rename the stage: `scratch` and `context` mean something else to the builder")
def dl3063(facts: Facts) -> Iterator[Hit]:
    for stage in facts.stages:
        if stage.alias in ("scratch", "context") and stage.from_instr:
            yield Hit(stage.from_instr.line)


def _leaves(facts: Facts) -> list[Stage]:
    return [s for s in facts.stages if not facts.used_as_base(s)]


@rule("DL3057", "ignore", "no HEALTHCHECK in the final image",
      "add `HEALTHCHECK CMD ...` (or `HEALTHCHECK NONE` to say there is none on purpose)")
def dl3057(facts: Facts) -> Iterator[Hit]:
    for leaf in _leaves(facts):
        chain = facts.ancestry(leaf)
        if not any(i.keyword == "healthcheck" for s in chain for i in s.instrs):
            line = leaf.from_instr.line if leaf.from_instr else 1
            yield Hit(line)
