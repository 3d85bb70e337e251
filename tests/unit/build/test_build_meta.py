"""Build pieces without root: created_by strings, config effects, COPY paths, cache keys, plans."""

from __future__ import annotations

import pytest

from dockyard.build import meta
from dockyard.build.cache import step_key
from dockyard.build.copy import dest_path, parse_chmod
from dockyard.build.planner import plan
from dockyard.build.step_text import copy_created_by as _copy_created_by
from dockyard.build.step_text import run_args as _run_args
from dockyard.dockerfile.expand import StageEnv
from dockyard.dockerfile.stages import load
from dockyard.errors import InvalidArgument
from dockyard.oci.config import ImageConfig


def _commands(text: str) -> list:
    return load("FROM scratch\n" + text).stages[0].commands


def _apply(text: str, config: ImageConfig | None = None) -> tuple[ImageConfig, list[str | None]]:
    config = config or ImageConfig()
    flags = meta.StageFlags()
    tracker = StageEnv()
    out = []
    for command in _commands(text):
        expanded = tracker.step(command).command  # quotes and $VARs, as a build sees them
        config, created_by = meta.apply_meta(config, expanded, flags)
        out.append(created_by)
    return config, out


def test_created_by_strings_match_buildkit() -> None:
    config, lines = _apply(
        'ENV A=1 B="two words"\nLABEL x=y\nEXPOSE 80 443/tcp 53/udp\nCMD ["python", "app.py"]\n'
        "USER app\nVOLUME /data /logs\nSTOPSIGNAL SIGINT\nSHELL [\"/bin/bash\", \"-c\"]\n"
        "HEALTHCHECK --interval=5m --timeout=3s --retries=3 CMD curl -f http://localhost/\n"
        "ENTRYPOINT echo hi\n"
    )
    assert lines == [
        "ENV A=1 B=two words",
        "LABEL x=y",
        "EXPOSE map[443/tcp:{} 53/udp:{} 80/tcp:{}]",
        'CMD ["python" "app.py"]',
        "USER app",
        "VOLUME [/data /logs]",
        "STOPSIGNAL SIGINT",
        "SHELL [/bin/bash -c]",
        "HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/] Interval:5m0s Timeout:3s"
        " StartPeriod:0s StartInterval:0s Retries:3}",
        'ENTRYPOINT ["/bin/bash" "-c" "echo hi"]',
    ]
    cfg = config.cfg
    assert cfg.env == ("A=1", "B=two words")
    assert cfg.cmd == ("python", "app.py")  # CMD set in this stage survives ENTRYPOINT
    assert cfg.entrypoint == ("/bin/bash", "-c", "echo hi")
    assert cfg.exposed_ports == {"443/tcp": {}, "53/udp": {}, "80/tcp": {}}
    assert cfg.volumes == {"/data": {}, "/logs": {}}
    assert cfg.args_escaped is True


def test_entrypoint_clears_inherited_cmd_and_onbuild_has_no_history() -> None:
    base = ImageConfig().with_config(cmd=("sh",))
    config, lines = _apply("ENTRYPOINT [\"top\"]\nONBUILD RUN echo hi\n", base)
    assert config.cfg.cmd is None
    assert config.cfg.on_build == ("RUN echo hi",)
    assert lines[1] is None


def test_go_formatting() -> None:
    assert meta.go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'
    assert meta.go_duration(0) == "0s"
    assert meta.go_duration(1_500_000_000) == "1.5s"
    assert meta.go_duration(3_723_000_000_000) == "1h2m3s"
    assert meta.go_duration(300_000_000) == "300ms"
    assert meta.expose_ports(["8000-8002/UDP"]) == ["8000/udp", "8001/udp", "8002/udp"]
    with pytest.raises(InvalidArgument):
        meta.expose_ports(["http"])
    with pytest.raises(InvalidArgument):
        meta.check_signal("SIGNOPE")


def test_workdir_and_run_created_by() -> None:
    assert meta.normalize_workdir("/app", "sub/../x/") == "/app/x"
    assert meta.normalize_workdir("", "rel") == "/rel"
    assert meta.run_created_by(["/bin/sh", "-c", "echo hi"], [("A", "1")]) == (
        "RUN |1 A=1 /bin/sh -c echo hi # buildkit"
    )
    run = _commands('RUN ["echo", "x"]\n')[0]
    assert _run_args(ImageConfig(), run) == (["echo", "x"], [])
    heredoc = _commands("RUN <<EOF\n#!/bin/sh\necho hi\nEOF\n")[0]
    args, files = _run_args(ImageConfig(), heredoc)
    assert args == ["/bin/sh", "-c", "/dev/pipes/EOF"] and files[0][0] == "EOF"


def test_copy_created_by_and_dest() -> None:
    copy = _commands("COPY --chown=1:2 --chmod=600 a b /dst/\n")[0]
    assert _copy_created_by(copy) == "COPY --chown=1:2 --chmod=600 a b /dst/ # buildkit"
    assert dest_path("/app", ".") == "/app/"
    assert dest_path("/app", "x") == "/app/x"
    assert dest_path("/app", "x/") == "/app/x/"
    assert dest_path("/", "/abs/../y/") == "/y/"
    assert parse_chmod("755") == 0o755
    with pytest.raises(InvalidArgument):
        parse_chmod("99999")


def test_step_key_depends_on_every_input() -> None:
    base = step_key("sha256:p", "RUN x", {"a": 1}, {"ARG": "1"}, "src")
    assert base == step_key("sha256:p", "RUN x", {"a": 1}, {"ARG": "1"}, "src")
    others = {
        step_key("sha256:q", "RUN x", {"a": 1}, {"ARG": "1"}, "src"),
        step_key("sha256:p", "RUN y", {"a": 1}, {"ARG": "1"}, "src"),
        step_key("sha256:p", "RUN x", {"a": 2}, {"ARG": "1"}, "src"),
        step_key("sha256:p", "RUN x", {"a": 1}, {"ARG": "2"}, "src"),
        step_key("sha256:p", "RUN x", {"a": 1}, {"ARG": "1"}, "other"),
    }
    assert base not in others and len(others) == 5


def test_plan_picks_only_needed_stages() -> None:
    dockerfile = load(
        "ARG BASE=busybox\nFROM $BASE AS a\nRUN true\nFROM scratch AS unused\n"
        "FROM a AS b\nCOPY x /\nFROM busybox\nCOPY --from=b /x /x\n"
    )
    p = plan(dockerfile, None, {})
    assert [s.stage.index for s in p.stages] == [0, 2, 3]
    assert p.stages[0].base == "busybox" and p.stages[1].base_stage == 0
    assert p.stages[0].label("RUN true") == "[a 1/2] RUN true"
    assert [s.stage.index for s in plan(dockerfile, "a", {}).stages] == [0]
    assert plan(dockerfile, None, {"BASE": "alpine"}).stages[0].base == "alpine"
    with pytest.raises(InvalidArgument, match="could not be found"):
        plan(dockerfile, "nope", {})
