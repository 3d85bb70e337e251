"""What `dockyard push` and `dockyard pull` import: not `dataclasses` (~25 ms of every start-up)."""

from __future__ import annotations

import subprocess
import sys

PUSH_PULL_MODULES = (
    "dockyard.engine.registry, dockyard.transports.registry.push,"
    " dockyard.transports.registry.pull, dockyard.oci.config, dockyard.reference"
)


def test_push_and_pull_do_not_import_dataclasses() -> None:
    code = f"import {PUSH_PULL_MODULES}; import sys; print('dataclasses' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_parsing_a_plain_reference_compiles_no_grammar() -> None:
    code = (
        "from dockyard import reference; reference.parse_reference('localhost:5000/a/b:v1');"
        " reference.parse_reference('ubuntu'); print(reference.grammar.cache_info().currsize)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "0"
