"""ARG scoping and expansion as Docker does it: meta ARGs, --build-arg, ENV over ARG, warnings."""

from __future__ import annotations

from dockyard.dockerfile.commands import Copy, Env, Run, Workdir
from dockyard.dockerfile.expand import (
    PROXY_ARGS,
    StageEnv,
    Step,
    expand_from,
    global_scope,
    platform_args,
)
from dockyard.dockerfile.stages import load


def walk(
    text: str, build_args: dict[str, str] | None = None, base_env: list[str] | None = None
) -> list[Step]:
    df = load(text)
    scope = global_scope(df.meta_args, build_args)
    env = StageEnv(base_env or [], build_args, scope, df.escape)
    return env.walk(df.stages[-1].commands)


def test_meta_arg_visible_in_from_only() -> None:
    df = load("ARG TAG=3.19\nFROM alpine:${TAG}\nRUN echo $TAG\nWORKDIR /w/$TAG\n")
    scope = global_scope(df.meta_args)
    from_, warnings = expand_from(df.stages[0].from_, scope)
    assert from_.base == "alpine:3.19" and warnings == []
    steps = StageEnv([], {}, scope).walk(df.stages[0].commands)
    assert "TAG" not in steps[0].run_env()
    workdir = steps[1].command
    assert isinstance(workdir, Workdir) and workdir.path == "/w/"
    assert [w.message for w in steps[1].warnings] == ["Usage of undefined variable '$TAG'"]


def test_meta_arg_redeclared_without_value_inherits() -> None:
    steps = walk("ARG TAG=3.19\nFROM alpine\nARG TAG\nWORKDIR /w/$TAG\n")
    assert steps[1].command.path == "/w/3.19"  # type: ignore[attr-defined]
    assert "TAG=3.19" in steps[1].run_env()


def test_build_arg_overrides_defaults() -> None:
    text = "ARG TAG=3.19\nFROM alpine:$TAG\nARG TAG\nARG MODE=debug\nWORKDIR /$TAG/$MODE\n"
    df = load(text)
    scope = global_scope(df.meta_args, {"TAG": "edge", "MODE": "release"})
    assert expand_from(df.stages[0].from_, scope)[0].base == "alpine:edge"
    steps = walk(text, {"TAG": "edge", "MODE": "release"})
    assert steps[2].command.path == "/edge/release"  # type: ignore[attr-defined]
    assert steps[2].used_args == {"TAG", "MODE"}
    assert steps[1].used_args == {"MODE"}


def test_env_beats_arg() -> None:
    steps = walk(
        "FROM a\nARG V=arg\nENV V=env\nWORKDIR /$V\nARG W=arg\n",
        build_args={"V": "cli"},
        base_env=["W=image"],
    )
    assert steps[2].command.path == "/env"  # type: ignore[attr-defined]
    assert steps[2].used_args == set()  # ENV answered, not the build arg
    run_env = steps[3].run_env()
    assert "V=env" in run_env and "V=cli" not in run_env
    assert "W=image" in run_env and "W=arg" not in run_env


def test_arg_default_uses_earlier_arg_and_env() -> None:
    steps = walk(
        "FROM a\nENV BASE=/opt\nARG NAME=app\nARG DIR=$BASE/$NAME SUB=${DIR}/bin\nWORKDIR $SUB\n"
    )
    assert steps[3].command.path == "/opt/app/bin"  # type: ignore[attr-defined]


def test_env_pairs_use_values_from_before_the_instruction() -> None:
    steps = walk("FROM a\nENV abc=hello\nENV abc=bye def=$abc\n")
    env = steps[1].command
    assert isinstance(env, Env) and env.pairs == [("abc", "bye"), ("def", "hello")]
    assert steps[1].env == ["abc=bye", "def=hello"]


def test_run_cmd_not_expanded_copy_expanded() -> None:
    steps = walk("FROM a\nARG D=/dst\nRUN echo $D\nCOPY --chown=$D src $D/\n")
    run = steps[1].command
    assert isinstance(run, Run) and run.cmd == "echo $D"
    copy = steps[2].command
    assert isinstance(copy, Copy) and (copy.dest, copy.chown) == ("/dst/", "/dst")


def test_undefined_var_warning_skips_declared_args_and_suggests() -> None:
    steps = walk("FROM a\nENV FOOBAR=1\nARG EMPTY\nWORKDIR /$EMPTY/$FOOBA\n")
    assert [w.message for w in steps[2].warnings] == [
        "Usage of undefined variable '$FOOBA' (did you mean $FOOBAR?)"
    ]
    assert steps[2].warnings[0].line == 4 and steps[2].warnings[0].short == "UndefinedVar"


def test_platform_and_proxy_args() -> None:
    values = platform_args("linux/arm/v7", build="linux/amd64")
    assert (values["TARGETARCH"], values["TARGETVARIANT"], values["BUILDOS"]) == (
        "arm",
        "v7",
        "linux",
    )
    steps = walk(
        "FROM a\nARG TARGETARCH\nWORKDIR /$TARGETARCH/$BUILDARCH\nRUN x\n",
        build_args={"HTTP_PROXY": "http://p:3128"},
    )
    assert steps[1].warnings == []
    assert steps[1].command.path.startswith("/")  # type: ignore[attr-defined]
    assert "HTTP_PROXY=http://p:3128" in steps[2].run_env({"HTTP_PROXY": "http://p:3128"})
    assert "HTTP_PROXY" in PROXY_ARGS


def test_undefined_arg_in_from_warns() -> None:
    df = load("ARG VERSION=1\nFROM alpine:$VERSON\n")
    from_, warnings = expand_from(df.stages[0].from_, global_scope(df.meta_args))
    assert from_.base == "alpine:"
    assert [w.message for w in warnings] == [
        "FROM argument 'VERSON' is not declared (did you mean VERSION?)"
    ]
