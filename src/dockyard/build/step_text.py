"""What a build step looks like as text: the expanded command's fields for its cache key, the
line shown in progress, a RUN's process args and a COPY/ADD's history `created_by`."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from dockyard.build import meta
from dockyard.dockerfile.commands import Add, Command, Copy, Run
from dockyard.oci.config import ImageConfig


def canonical(command: Command) -> dict[str, Any]:
    """The expanded command's fields (not where it was written) for the cache key."""
    out: dict[str, Any] = {"kind": type(command).__name__}
    for f in dataclasses.fields(command):
        if f.name == "node":
            continue
        value = getattr(command, f.name)
        if isinstance(value, list):
            value = [plain_value(v) for v in value]
        out[f.name] = value
    return json.loads(json.dumps(out, default=str))


def plain_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def display(command: Command) -> str:
    first = command.node.original.strip().splitlines()[0] if command.node.original else ""
    keyword, _, rest = first.partition(" ")
    return f"{keyword.upper()} {rest.strip()}".strip()


def run_args(config: ImageConfig, command: Run) -> tuple[list[str], list[tuple[str, bytes]]]:
    """The process args of a RUN (heredocs as BuildKit runs them) and files for /dev/pipes."""
    from dockyard.dockerfile.heredoc import chomp_heredoc_content, try_parse_heredoc

    if command.json_form:
        return list(command.cmd), []
    text = command.cmd if isinstance(command.cmd, str) else " ".join(command.cmd)
    files: list[tuple[str, bytes]] = []
    if command.heredocs:
        first = command.heredocs[0]
        if try_parse_heredoc(text.strip()) is not None:
            data = chomp_heredoc_content(first.content) if first.chomp else first.content
            if data.startswith("#!"):
                files.append((first.name, data.encode()))
                text = f"/dev/pipes/{first.name}"
            else:
                text = data
        else:
            text += "".join(f"\n{h.content}{h.name}" for h in command.heredocs)
    return meta.with_shell(config, text), files


def copy_created_by(command: Copy | Add) -> str:
    parts = ["ADD" if isinstance(command, Add) else "COPY"]
    if isinstance(command, Copy) and command.parents:
        parts.append("--parents")
    if command.chown:
        parts.append(f"--chown={command.chown}")
    if command.chmod:
        parts.append(f"--chmod={command.chmod}")
    parts += command.sources
    parts += [f"<<{h.path}" for h in command.heredocs]
    parts.append(command.dest)
    return " ".join(parts) + " # buildkit"
