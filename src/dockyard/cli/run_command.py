"""`dockyard run` and `create` without click: their options as data, the request, the run itself.

cmd_containers.py makes click commands of these; cli/fastpath.py calls them directly for a
`run` whose arguments it can parse, so a short `run` does not import click at all.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from dockyard.cli.optspec import FLAG, MULTI, Opt
from dockyard.errors import DockyardError, InvalidArgument

RUN_OPTS: list[Opt] = [
    Opt(("-d", "--detach"), "detach", FLAG, "Run in the background, print the ID."),
    Opt(("--name",), "name", help="Assign a name to the container."),
    Opt(("-p", "--publish"), "publish", MULTI, "Publish a port: [ip:]host:ctr[/udp]."),
    Opt(("-P", "--publish-all"), "publish_all", FLAG, "Publish all exposed ports."),
    Opt(("-e", "--env"), "env", MULTI, "Set an environment variable."),
    Opt(("--env-file",), "env_file", MULTI, "Read environment variables from a file."),
    Opt(("-v", "--volume"), "volume", MULTI, "Bind mount or named volume."),
    Opt(("--rm",), "auto_remove", FLAG, "Remove the container when it exits."),
    Opt(("-i", "--interactive"), "interactive", FLAG, "Keep STDIN open."),
    Opt(("-t", "--tty"), "tty", FLAG, "Allocate a pseudo-TTY."),
    Opt(("-w", "--workdir"), "workdir", help="Working directory inside the container."),
    Opt(("-u", "--user"), "user", help="user[:group] or uid[:gid]."),
    Opt(("--entrypoint",), "entrypoint", help="Overwrite the image's ENTRYPOINT."),
    Opt(("--hostname", "-h"), "hostname", help="Container host name."),
    Opt(("--network", "--net"), "network", help="none, host, bridge or a network."),
    Opt(("--restart",), "restart", help="no, always, unless-stopped, on-failure[:N]."),
    Opt(("-m", "--memory"), "memory", help="Memory limit (e.g. 256m)."),
    Opt(("--cpus",), "cpus", help="Number of CPUs.", type=float),
    Opt(("--read-only",), "read_only", FLAG, "Mount the root filesystem read-only."),
    Opt(("--cap-add",), "cap_add", MULTI, "Add a Linux capability."),
    Opt(("--cap-drop",), "cap_drop", MULTI, "Drop a Linux capability."),
    Opt(("--init",), "init", FLAG, "Run an init inside that forwards signals."),
    Opt(("-l", "--label"), "label", MULTI, "Set metadata (key=value)."),
    Opt(("--group-add",), "group_add", MULTI, "Additional groups to join."),
    Opt(("--privileged",), "privileged", FLAG, "Give extended privileges."),
    Opt(("--network-alias",), "network_aliases", MULTI, "Add a network-scoped alias for the container."),
    Opt(("--health-cmd",), "health_cmd", help="Command to run to check health."),
    Opt(("--health-interval",), "health_interval", help="Time between running the check (ms|s|m|h)."),
    Opt(("--health-timeout",), "health_timeout", help="Maximum time to allow one check to run."),
    Opt(("--health-retries",), "health_retries", help="Consecutive failures needed to report unhealthy.",
        type=int),
    Opt(("--health-start-period",), "health_start_period",
        help="Start period for the container to initialize before counting retries."),
    Opt(("--health-start-interval",), "health_start_interval",
        help="Time between running the check during the start period."),
    Opt(("--no-healthcheck",), "no_healthcheck", FLAG, "Disable any container-specified HEALTHCHECK."),
]  # fmt: skip
DEFAULT_NETWORK = "bridge"


def engine(root: Path, runtime: str | None) -> Any:
    from dockyard.engine.containers import ContainerEngine

    return ContainerEngine(root, runtime=runtime)


def build_request(image: str, command: tuple[str, ...] | list[str], kw: dict[str, Any]) -> Any:
    """The engine's CreateRequest from `run`/`create`'s parsed options."""
    from dockyard.engine.requests import CreateRequest
    from dockyard.runtime import health
    from dockyard.runtime.bundle import RunOptions, parse_memory
    from dockyard.runtime.requests import parse_env, parse_labels, parse_volume

    entry = kw["entrypoint"]
    opts = RunOptions(
        command=list(command),
        entrypoint=None if entry is None else ([entry] if entry else []),
        env=parse_env(list(kw["env"]), list(kw["env_file"])),
        workdir=kw["workdir"], user=kw["user"], group_add=list(kw["group_add"]),
        hostname=kw["hostname"], tty=kw["tty"], interactive=kw["interactive"],
        read_only=kw["read_only"], cap_add=list(kw["cap_add"]), cap_drop=list(kw["cap_drop"]),
        privileged=kw["privileged"],
        memory=parse_memory(kw["memory"]) if kw["memory"] else None,
        cpus=kw["cpus"], init=kw["init"],
        mounts=[parse_volume(v) for v in kw["volume"]], labels=parse_labels(list(kw["label"])),
    )  # fmt: skip
    if kw["cpus"] is not None and kw["cpus"] <= 0:
        raise InvalidArgument("--cpus must be greater than 0", hint="e.g. --cpus 0.5")
    return CreateRequest(
        image=image, options=opts, name=kw["name"], publish=list(kw["publish"]),
        publish_all=kw["publish_all"],
        network=DEFAULT_NETWORK if kw["network"] is None else kw["network"],
        restart=kw["restart"], auto_remove=kw["auto_remove"], detach=kw["detach"],
        aliases=list(kw["network_aliases"]),
        healthcheck=health.from_flags(
            kw["health_cmd"], kw["health_interval"], kw["health_timeout"], kw["health_start_period"],
            kw["health_start_interval"], kw["health_retries"], kw["no_healthcheck"]),
    )  # fmt: skip


def run(root: Path, runtime: str | None, image: str, command: list[str], kw: dict[str, Any]) -> int:
    """`dockyard run`: the exit code to end with (the container's, or 0 once detached)."""
    eng = engine(root, runtime)
    c = eng.create(build_request(image, command, kw))
    if kw["detach"]:
        try:
            eng.start(c)
        except DockyardError:
            if kw["auto_remove"]:
                eng.remove(c.id, force=True)
            raise
        sys.stdout.write(c.id + "\n")
        return 0
    sys.stdout.flush()
    try:
        return int(eng.run_attached(c))
    except DockyardError as exc:
        if not getattr(exc, "reported", False):
            raise
        return exc.exit_code  # the runtime already printed the one error line on our stderr


def exit_now(code: int) -> None:
    """Exit with `code` without the interpreter's teardown (~10-20 ms of a short `run`).

    Everything is committed by now; only when the CLI owns the real stdout (not under a
    test runner that swapped it) is the process ended directly.
    """
    out, err = sys.__stdout__, sys.__stderr__
    if out is not None and err is not None and sys.stdout is out and sys.stderr is err:
        out.flush()
        err.flush()
        os._exit(code)
    sys.exit(code)
