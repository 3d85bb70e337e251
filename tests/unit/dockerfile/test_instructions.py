"""Typed instructions: fields, Docker's error messages with lines, stages and dependencies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.dockerfile import DockerfileSyntaxError
from dockyard.dockerfile.commands import (
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Label,
    Onbuild,
    Run,
    Shell,
    Volume,
)
from dockyard.dockerfile.stages import load, stages_needed
from dockyard.errors import InvalidArgument


def commands(body: str) -> list:
    return load("FROM alpine\n" + body).stages[0].commands


def error(body: str) -> DockerfileSyntaxError:
    with pytest.raises(DockerfileSyntaxError) as info:
        load("FROM alpine\n" + body)
    return info.value


def test_run_forms_mounts_network() -> None:
    run_shell, run_exec, run_mount = commands(
        'RUN echo hi\nRUN ["echo", "hi"]\n'
        "RUN --mount=type=cache,target=/root/.cache,id=pip --network=none pip install x\n"
    )
    assert isinstance(run_shell, Run) and run_shell.cmd == "echo hi" and not run_shell.json_form
    assert isinstance(run_exec, Run) and run_exec.cmd == ["echo", "hi"] and run_exec.json_form
    assert isinstance(run_mount, Run) and run_mount.network == "none"
    mount = run_mount.mounts[0]
    assert (mount.type, mount.target, mount.id) == ("cache", "/root/.cache", "pip")


def test_run_heredoc_and_copy_heredoc_sources() -> None:
    run, copy = commands("RUN <<EOF\necho a\nEOF\nCOPY <<-EOT /etc/x\n\tline\n\tEOT\n")
    assert isinstance(run, Run) and run.heredocs[0].content == "echo a\n"
    assert isinstance(copy, Copy) and copy.sources == [] and copy.dest == "/etc/x"
    assert copy.heredocs[0].data == "line\n" and copy.heredocs[0].path == "EOT"


def test_copy_add_flags() -> None:
    copy, add = commands(
        "COPY --from=build --chown=1:2 --chmod=755 --link --exclude=*.md a b /dst/\n"
        "ADD --checksum=sha256:abc --keep-git-dir=true https://x/y.tar /t\n"
    )
    assert isinstance(copy, Copy)
    assert (copy.from_, copy.chown, copy.chmod, copy.link) == ("build", "1:2", "755", True)
    assert copy.sources == ["a", "b"] and copy.exclude == ["*.md"]
    assert isinstance(add, Add) and add.checksum == "sha256:abc" and add.keep_git_dir


def test_env_label_expose_volume_arg() -> None:
    env, legacy, label, expose, volume, arg = commands(
        'ENV A=1 B="two words"\nENV C three words\nLABEL k=v\nEXPOSE 80/tcp 443\n'
        'VOLUME ["/a", "/b"]\nARG X Y=2\n'
    )
    assert isinstance(env, Env) and env.pairs == [("A", "1"), ("B", '"two words"')]
    assert isinstance(legacy, Env) and legacy.pairs == [("C", "three words")]
    assert isinstance(label, Label) and label.pairs == [("k", "v")]
    assert isinstance(expose, Expose) and expose.ports == ["443", "80/tcp"]
    assert isinstance(volume, Volume) and volume.paths == ["/a", "/b"]
    assert isinstance(arg, Arg) and [(a.name, a.default) for a in arg.args] == [
        ("X", None),
        ("Y", "2"),
    ]


def test_healthcheck_and_cmd_entrypoint_shell() -> None:
    hc, none, cmd, ep, shell = commands(
        "HEALTHCHECK --interval=1m30s --retries=3 CMD curl -f http://x/\nHEALTHCHECK NONE\n"
        'CMD ["a"]\nENTRYPOINT /bin/sh\nSHELL ["/bin/bash", "-c"]\n'
    )
    assert isinstance(hc, Healthcheck)
    assert hc.test == ["CMD-SHELL", "curl -f http://x/"]
    assert (hc.interval, hc.retries) == (90_000_000_000, 3)
    assert isinstance(none, Healthcheck) and none.test == ["NONE"]
    assert isinstance(cmd, Cmd) and cmd.cmd == ["a"]
    assert isinstance(ep, Entrypoint) and ep.cmd == "/bin/sh"
    assert isinstance(shell, Shell) and shell.shell == ["/bin/bash", "-c"]


def test_onbuild_expression_and_refusals() -> None:
    (onbuild,) = commands("ONBUILD RUN echo hi\n")
    assert isinstance(onbuild, Onbuild) and onbuild.expression == "RUN echo hi"
    assert "Chaining ONBUILD" in error("ONBUILD ONBUILD RUN x\n").reason
    assert error("ONBUILD FROM x\n").reason == "FROM isn't allowed as an ONBUILD trigger"
    assert (
        error("ONBUILD MAINTAINER me\n").reason == "MAINTAINER isn't allowed as an ONBUILD trigger"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("RUNN x\n", "unknown instruction: RUNN (did you mean RUN?)"),
        ("COPY --chwon=1 a b\n", "unknown flag: chwon (did you mean chown?)"),
        (
            "COPY onlyone\n",
            "COPY requires at least two arguments, but only one was provided. "
            "Destination could not be determined.",
        ),
        ("WORKDIR\n", "WORKDIR requires exactly one argument"),
        ("EXPOSE\n", "EXPOSE requires at least one argument"),
        ("COPY --link=maybe a b\n", "expecting boolean value for flag link, not: maybe"),
        ("COPY --from a b\n", "missing a value on flag: from"),
        ("SHELL /bin/sh -c\n", "SHELL requires the arguments to be in JSON form"),
        ("HEALTHCHECK --interval=10us CMD x\n", 'Interval "interval" cannot be less than 1ms'),
        ("HEALTHCHECK FOO x\n", 'Unknown type "FOO" in HEALTHCHECK (try CMD)'),
        ("RUN --network=bridge x\n", 'unsupported network mode "bridge"'),
        ("ARG =x\n", "ARG names can not be blank"),
    ],
)
def test_errors_name_line_and_message(body: str, message: str) -> None:
    err = error(body)
    assert err.reason == message
    assert err.line == 2
    assert str(err).startswith("Dockerfile:2:")


def test_from_errors() -> None:
    with pytest.raises(DockerfileSyntaxError, match="FROM requires either one or three"):
        load("FROM a b\n")
    with pytest.raises(DockerfileSyntaxError, match="invalid name for build stage"):
        load("FROM a AS 1st\n")
    with pytest.raises(DockerfileSyntaxError, match="no build stage in current context"):
        load("RUN x\nFROM a\n")


def test_stages_and_meta_args() -> None:
    df = load("ARG V=1\nFROM a:$V AS Build\nRUN x\nFROM b\nCOPY --from=build /x /y\n")
    assert [a.args[0].name for a in df.meta_args] == ["V"]
    assert [s.name for s in df.stages] == ["build", ""]
    assert df.stage("BUILD").index == 0 and df.stage("1").index == 1


DEPS = """\
FROM alpine AS base
FROM base AS build
RUN --mount=from=tools,target=/t make
FROM busybox AS tools
FROM scratch AS unrelated
FROM alpine AS final
COPY --from=build /out /out
COPY --from=0 /etc/os-release /
COPY --from=nginx:latest /etc/nginx /etc/nginx
"""


def test_stages_needed_follows_from_copy_and_mount() -> None:
    stages = load(DEPS).stages
    assert stages_needed(stages) == [0, 1, 2, 4]  # nginx:latest is an image, not a stage
    assert stages_needed(stages, "build") == [0, 1, 2]
    assert stages_needed(stages, "unrelated") == [3]


def test_stages_needed_detects_cycles() -> None:
    stages = load("FROM b AS a\nFROM a AS b\n").stages
    with pytest.raises(DockerfileSyntaxError, match="circular dependency"):
        stages_needed(stages)


def test_stages_needed_errors() -> None:
    stages = load(DEPS).stages
    with pytest.raises(InvalidArgument, match="target stage 'buid' could not be found") as info:
        stages_needed(stages, "buid")
    assert info.value.hint == "did you mean build?"
    bad = load("FROM a\nFROM b\nCOPY --from=7 /x /y\n").stages
    with pytest.raises(DockerfileSyntaxError, match="stage index 7 is out of range"):
        stages_needed(bad)


_WORDS = ["FROM", "RUN", "COPY", "ENV", "ARG", "ONBUILD", "HEALTHCHECK", "SHELL", " ", "a",
          "b=c", "$x", '"', "[", "]", "--from=a", "--mount=type=cache", "--", "<<EOF", "\nEOF\n",
          "\n", "\\\n", "AS", "NONE", "="]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=30))
def test_random_instructions_load_or_raise_user_errors(words: list[str]) -> None:
    try:
        df = load("".join(words))
        stages_needed(df.stages)
    except InvalidArgument:  # DockerfileSyntaxError is one
        pass
