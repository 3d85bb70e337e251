"""Docker's human sizes/times, the small Go-template subset, and mutate (derived images)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dockyard.cli.formatting import human_duration, human_size, render_template, time_ago
from dockyard.errors import InvalidArgument
from dockyard.image import chain_ids, mutate
from dockyard.oci.config import History
from dockyard.store import Store


@pytest.mark.parametrize("size,text", [
    (0, "0B"), (999, "999B"), (1000, "1kB"), (7_050_000, "7.05MB"), (123_456, "123kB"),
    (1_234_567_890, "1.23GB"), (5_600_000, "5.6MB"),
])
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize("secs,text", [
    (0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (150, "2 minutes"), (3600, "About an hour"), (2 * 3600, "2 hours"), (47 * 3600, "47 hours"),
    (3 * 86400, "3 days"), (15 * 86400, "2 weeks"), (90 * 86400, "3 months"),
    (800 * 86400, "2 years"),
])
def test_human_duration(secs: float, text: str) -> None:
    assert human_duration(secs) == text


def test_time_ago() -> None:
    assert time_ago(1000.0, now=1000.0 + 7200) == "2 hours ago"
    assert time_ago(None) == "N/A"


def test_template() -> None:
    doc = {"Id": "sha256:x", "Config": {"Cmd": ["sh", "-c"]}, "RepoTags": ["a:1"]}
    assert render_template("{{.Id}} {{json .Config.Cmd}} {{.RepoTags}}", doc) == \
        'sha256:x ["sh","-c"] [a:1]'
    with pytest.raises(InvalidArgument, match="can't evaluate field Nope"):
        render_template("{{.Nope}}", doc)
    with pytest.raises(InvalidArgument, match="unclosed action"):
        render_template("{{.Id}} {{", doc)  # docker: "template: :1: unclosed action"


def test_mutate_append_layer_and_config(tmp_path: Path) -> None:
    store = Store(tmp_path / "root")
    base = mutate.scratch(store)
    assert base.layers == [] and base.diff_ids == []
    data = b"\0" * 1024  # an (empty) tar
    digest = store.content.write_bytes(data)

    class Blob:
        def __init__(self) -> None:
            self.digest, self.size = digest, len(data)

    one = mutate.append_layer(base, Blob(), History(created_by="RUN true"))
    assert one.diff_ids == [digest]
    assert [str(d.digest) for d in one.layers] == [digest]
    assert one.config.history[-1].created_by == "RUN true"
    two = mutate.append_layer(one, Blob())
    expect = "sha256:" + hashlib.sha256(f"{digest} {digest}".encode()).hexdigest()
    assert two.chain_ids() == [digest, expect] == chain_ids([digest, digest])
    tagged = mutate.register(mutate.with_container_config(two, cmd=("sh",)), ["built:1"])
    again = store.image("built:1")
    assert again.id == tagged.id
    assert again.config.cfg.cmd == ("sh",)
    assert again.diff_ids == [digest, digest]
    assert mutate.add_history(again, "ENV A=1").config.history[-1].empty_layer
    store.close()
