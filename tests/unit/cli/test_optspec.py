"""The click-free `run` parser (cli/optspec.py) reads arguments exactly as click does, or defers."""

from __future__ import annotations

from typing import Any

import click
import pytest

from dockyard.cli import optspec
from dockyard.cli.cmd_containers import run_flags
from dockyard.cli.run_command import RUN_OPTS


def _click_parse(args: list[str]) -> tuple[dict[str, Any], list[str]] | None:
    """What click's `run` would call the command with, or None if click refuses the arguments."""
    seen: dict[str, Any] = {}

    @click.command(context_settings={"allow_interspersed_args": False})
    @run_flags
    @click.argument("image")
    @click.argument("command", nargs=-1, type=click.UNPROCESSED)
    def run(image: str, command: tuple[str, ...], **kw: Any) -> None:
        seen.update(kw=kw, positionals=[image, *command])

    try:
        run.main(args, standalone_mode=False)
    except click.UsageError:
        return None
    return seen["kw"], seen["positionals"]


CASES = [
    ["busybox"],
    ["busybox", "true"],
    ["--rm", "--network", "none", "busybox", "true"],
    ["--rm", "--network=none", "busybox", "sh", "-c", "exit 3"],
    ["-d", "--name", "web", "-p", "8080:80", "-p", "127.0.0.1:8443:443/tcp", "img"],
    ["-dp", "80:80", "img"],
    ["-it", "img", "sh"],
    ["-itd", "img"],
    ["-e", "A=1", "-eB=2", "--env", "C=3", "--env=D=4", "img", "env"],
    ["-v", "/tmp:/data:ro", "--volume", "vol:/v", "img"],
    ["-w", "/app", "-u", "1000:1000", "--entrypoint", "", "img", "ls", "-l"],
    ["-h", "box", "img"],
    ["--hostname=box", "--net", "host", "img"],
    ["--cpus", "0.5", "-m", "256m", "--read-only", "--init", "img"],
    ["--cpus", "abc", "img"],
    ["--health-retries", "3", "--health-cmd", "true", "img"],
    ["--health-retries", "x", "img"],
    ["--cap-add", "NET_ADMIN", "--cap-drop=ALL", "--privileged", "img"],
    ["-l", "a=b", "--label", "c", "--group-add", "10", "--network-alias", "db", "img"],
    ["--", "img", "--rm"],
    ["img", "--rm", "-d"],
    ["--rm"],
    ["--name"],
    ["--bogus", "img"],
    ["--rm=yes", "img"],
    ["-Z", "img"],
    ["-d", "-", "x"],
    ["--restart", "on-failure:3", "--no-healthcheck", "img"],
    ["-P", "--env-file", "/dev/null", "img"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) or "empty" for c in CASES])
def test_fast_parser_agrees_with_click_or_defers(args: list[str]) -> None:
    fast = optspec.parse(RUN_OPTS, args)
    slow = _click_parse(args)
    if fast is None:  # deferring is always safe: click then answers; but it must not refuse
        assert slow is None, "the fast path gave up on arguments click accepts"
        return
    assert slow is not None, f"click refuses {args} but the fast path accepted it"
    assert fast == slow


def test_fast_parser_takes_the_common_runs() -> None:
    """The point of the fast path: the everyday forms never need click."""
    for args in (["--rm", "--network", "none", "busybox", "true"],
                 ["-d", "--name", "flask-app", "-p", "5000:5000", "my-flask-app:1.0"],
                 ["-it", "--rm", "-e", "A=1", "-v", "/tmp:/t", "img", "sh"]):  # fmt: skip
        assert optspec.parse(RUN_OPTS, args) is not None


def _click_build(args: list[str]) -> tuple[dict[str, Any], list[str]] | None:
    """What click's `build` would call the command with, or None if click refuses the arguments."""
    from dockyard.cli.cmd_build import _options

    seen: dict[str, Any] = {}

    def build(ctx: click.Context, path: str, **kw: Any) -> None:
        seen.update(kw=kw, positionals=[path])

    try:
        click.command()(_options(build)).main(args, standalone_mode=False)
    except click.UsageError:
        return None
    return seen["kw"], seen["positionals"]


BUILD_CASES = [
    ["."],
    ["-t", "my-flask-app:1.0", "."],
    [".", "-t", "a", "-t", "b:2", "--no-cache"],
    ["-f", "Dockerfile.dev", "--build-arg", "A=1", "--build-arg=B", "ctx"],
    ["-qt", "x", "--iidfile", "/tmp/id", "--target", "final", "."],
    ["--progress", "plain", "--network", "none", "--label", "a=b", "."],
    ["--progress", "fancy", "."],
    ["--platform", "linux/amd64", "--secret", "id=a,src=/x", "-"],
    ["--check", "."],
    ["-f", "-", "."],
    [],
    [".", "more"],
    ["--bogus", "."],
]


@pytest.mark.parametrize("args", BUILD_CASES, ids=[" ".join(c) or "empty" for c in BUILD_CASES])
def test_fast_build_parser_agrees_with_click_or_defers(args: list[str]) -> None:
    from dockyard.cli.build_command import BUILD_OPTS

    fast = optspec.parse(BUILD_OPTS, args, interspersed=True)
    slow = _click_build(args)
    if fast is None or len(fast[1]) != 1:
        assert slow is None, "the fast path gave up on arguments click accepts"
        return
    assert fast == slow


TRANSFER_CASES = [
    ["localhost:5000/app:1"],
    ["-q", "img"],
    ["img", "--all-tags", "--insecure-registry", "localhost:5000"],
    ["--platform", "linux/arm64", "img"],
    ["--chunk-size", "1048576", "img"],
    ["--chunk-size", "big", "img"],
    ["-aq", "img"],
    [],
    ["a", "b"],
]


@pytest.mark.parametrize("name", ["pull", "push"])
@pytest.mark.parametrize("args", TRANSFER_CASES, ids=[" ".join(c) or "empty" for c in TRANSFER_CASES])
def test_fast_pull_push_parsers_agree_with_click_or_defer(name: str, args: list[str]) -> None:
    from dockyard.cli import cmd_registry, registry_command

    opts = registry_command.PULL_OPTS if name == "pull" else registry_command.PUSH_OPTS
    command = cmd_registry.pull_cmd if name == "pull" else cmd_registry.push_cmd
    seen: dict[str, Any] = {}

    def callback(ref: str, **kw: Any) -> None:
        seen.update(kw=kw, positionals=[ref])

    probe = click.Command(name, params=command.params, callback=callback)
    try:
        probe.main(args, standalone_mode=False)
        slow: tuple[dict[str, Any], list[str]] | None = (seen["kw"], seen["positionals"])
    except click.UsageError:
        slow = None
    fast = optspec.parse(opts, args, interspersed=True)
    if fast is None or len(fast[1]) != 1:
        assert slow is None, "the fast path gave up on arguments click accepts"
        return
    assert fast == slow
