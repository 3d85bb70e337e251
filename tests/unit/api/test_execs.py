"""Exec instances (create, start once, inspect) and the filter rules compose relies on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dockyard.api.adapters import container_matches
from dockyard.api.execs import ExecRegistry, Prepared, run
from dockyard.api.hijack import RawConnection
from dockyard.api.serialize import frame
from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.runtime.containers import Container


def test_an_exec_starts_once_and_is_found_by_a_unique_prefix() -> None:
    reg = ExecRegistry()
    rec = reg.create("c1", {"Cmd": ["ls", "-l"], "Env": ["A=1"], "User": "app", "Tty": True,
                            "AttachStdout": True})  # fmt: skip
    assert reg.get(rec.id[:12]) is rec
    doc = rec.inspect()
    assert (doc["Running"], doc["ExitCode"], doc["ContainerID"]) == (False, None, "c1")
    assert doc["ProcessConfig"] == {"tty": True, "entrypoint": "ls", "arguments": ["-l"],
                                    "privileged": False, "user": "app"}  # fmt: skip
    reg.claim(rec.id)
    assert rec.inspect()["Running"] is True
    with pytest.raises(Conflict):
        reg.claim(rec.id)
    with pytest.raises(NotFound, match="No such exec instance"):
        reg.get("ffff")
    with pytest.raises(InvalidArgument):
        reg.create("c1", {"Cmd": []})


def test_run_frames_stdout_and_stderr_feeds_stdin_and_records_the_exit_code(tmp_path: Path) -> None:
    """The runner around `runc exec`, here around sh: the same pipes, frames and exit code."""
    reg = ExecRegistry()
    rec = reg.create("c1", {"Cmd": ["x"], "AttachStdin": True, "AttachStdout": True, "AttachStderr": True})
    pfile, log = tmp_path / "p.json", tmp_path / "p.log"
    pfile.write_text("{}")
    prep = Prepared(["sh", "-c", "read line; echo got $line; echo bad >&2; exit 7"], pfile, log)
    out: list[bytes] = []
    chunks = [b"hello\n", b""]

    async def stdin() -> bytes:
        return chunks.pop(0) if chunks else b""

    code = asyncio.run(run(rec, prep, out.append, stdin))
    assert code == 7 and rec.exit_code == 7 and rec.running is False
    assert sorted(out) == sorted([frame(1, b"got hello\n"), frame(2, b"bad\n")])
    assert not pfile.exists()


def test_raw_connection_reads_a_body_then_leaves_the_rest_as_stdin() -> None:
    async def go() -> tuple[bytes, bytes, bytes]:
        raw = RawConnection()
        raw.data_received(b'{"Detach":false}input')
        raw.eof_received()
        body = await raw.read_exactly(16)
        return body, await raw.read(), await raw.read()

    assert asyncio.run(go()) == (b'{"Detach":false}', b"input", b"")


def _container(labels: dict[str, str], state: str = "running") -> Container:
    return Container("a" * 64, "proj_web_1", "busybox", "sha256:" + "b" * 64, 0.0, state,
                     config={"labels": labels})  # fmt: skip


def test_every_label_filter_must_match_but_any_status_may() -> None:
    web = _container({"com.docker.compose.project": "p", "com.docker.compose.service": "web"})
    want_client = {"label": ["com.docker.compose.project=p", "com.docker.compose.service=client"]}
    assert not container_matches(web, want_client)
    assert container_matches(web, {"label": ["com.docker.compose.project=p", "com.docker.compose.service"]})
    assert container_matches(web, {"status": ["created", "running"]})
    assert not container_matches(web, {"status": ["created", "exited"]})
