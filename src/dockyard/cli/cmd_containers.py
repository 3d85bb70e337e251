"""Container commands with Docker's flags and output: run, create, start, ps, logs, stop, rm, exec, ..."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from dockyard.cli import run_command
from dockyard.cli.clicktools import options
from dockyard.cli.run_command import RUN_OPTS
from dockyard.errors import DockyardError, InvalidArgument

run_flags = options(RUN_OPTS)  # the options of `run` and `create` (the fast entry reads the same)


def engine(obj: Any) -> Any:
    return run_command.engine(obj.root, obj.runtime)


@click.command(context_settings={"ignore_unknown_options": False, "allow_interspersed_args": False})
@run_flags
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def run(obj: Any, image: str, command: tuple[str, ...], **kw: Any) -> None:
    """Create and run a new container from an image."""
    code = run_command.run(obj.root, obj.runtime, image, list(command), kw)
    if not kw["detach"]:
        run_command.exit_now(code)


@click.command(context_settings={"allow_interspersed_args": False})
@run_flags
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def create(obj: Any, image: str, command: tuple[str, ...], **kw: Any) -> None:
    """Create a new container without starting it."""
    c = engine(obj).create(run_command.build_request(image, command, kw))
    click.echo(c.id)


@click.command()
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def start(obj: Any, attach: bool, containers: tuple[str, ...]) -> None:
    """Start one or more stopped containers."""
    eng = engine(obj)
    for ref in containers:
        offset = eng.log_size(ref) if attach else 0
        c = eng.start(ref)
        if attach:
            for entry in eng.logs(c.id, after=offset):
                _emit(entry, timestamps=False)
            sys.exit(eng.wait(c.id))
        click.echo(ref)


def _emit(entry: Any, timestamps: bool) -> None:
    out = sys.stdout.buffer if entry.stream == "stdout" else sys.stderr.buffer
    if timestamps:
        from dockyard.runtime.inspect import iso

        out.write(iso(entry.epoch).encode() + b" ")
    out.write(entry.text)
    out.flush()


def _matches(c: Any, filters: list[str]) -> bool:
    for f in filters:
        key, _, value = f.partition("=")
        if key == "name" and value not in c.name:
            return False
        if key == "id" and not c.id.startswith(value):
            return False
        if key == "status" and c.state != value:
            return False
        if key == "ancestor" and value not in (c.image, c.image_id):
            return False
        if key == "exited" and (c.state != "exited" or str(c.exit_code) != value):
            return False
        if key == "label":
            k, _, v = value.partition("=")
            labels = c.config.get("labels", {})
            if k not in labels or (v and labels[k] != v):
                return False
        if key == "health" and (c.health["Status"] if c.health else "none") != value:
            return False
        if key not in ("name", "id", "status", "ancestor", "exited", "label", "health"):
            raise InvalidArgument(f"invalid filter '{key}'",
                                  hint="use name, id, status, ancestor, exited, label or health")
    return True


PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
              "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
              "Names": "NAMES", "Labels": "LABELS", "Networks": "NETWORKS", "Mounts": "MOUNTS"}  # fmt: skip


def _ps_fields(c: Any, no_trunc: bool) -> dict[str, str]:
    """The fields Docker's `ps --format` offers, as strings."""
    from dockyard.cli.formatting import ellipsis, time_ago
    from dockyard.runtime.inspect import command_text, ports_text, status_text

    cmd = command_text(c)
    opts = c.config.get("options", {})
    return {
        "ID": c.id if no_trunc else c.short_id, "Image": c.image,
        "Command": json.dumps(cmd if no_trunc else ellipsis(cmd, 20), ensure_ascii=False),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(c.created)),
        "RunningFor": time_ago(c.created), "Ports": ports_text(c), "State": c.state,
        "Status": status_text(c), "Names": c.name,
        "Labels": ",".join(f"{k}={v}" for k, v in sorted((c.config.get("labels") or {}).items())),
        "Networks": ",".join(c.config.get("networks_state") or {}) or c.config.get("network_mode", ""),
        "Mounts": ",".join(m.get("name") or m["source"] for m in opts.get("mounts", [])),
    }  # fmt: skip


@click.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers.")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter (name=, status=, label=...).")
@click.option("--format", "fmt", default=None, help="'table', 'json' or a Go template.")
@click.pass_obj
def ps(obj: Any, all_: bool, quiet: bool, no_trunc: bool, filters: tuple[str, ...],
       fmt: str | None) -> None:  # fmt: skip
    """List containers."""
    from dockyard.cli.formatting import format_rows, render_table

    rows = [c for c in engine(obj).list(all_=all_ or bool(filters)) if _matches(c, list(filters))]
    if quiet:
        for c in rows:
            click.echo(c.id if no_trunc else c.short_id)
        return
    if fmt and fmt != "table":
        docs = [_ps_fields(c, no_trunc) for c in rows]
        if docs:
            click.echo(format_rows(fmt, docs, PS_HEADERS).rstrip("\n"))
        return
    columns = ("ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names")
    table = [[f[k] for k in columns] for f in (_ps_fields(c, no_trunc) for c in rows)]
    headers = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    click.echo(render_table(headers, table).rstrip("\n"))


@click.command()
@click.option("-f", "--follow", is_flag=True, help="Follow log output.")
@click.option("-n", "--tail", default="all", help="Number of lines from the end.")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps.")
@click.option("--since", default=None, help="Show logs since a time or duration (10m).")
@click.argument("container")
@click.pass_obj
def logs(obj: Any, follow: bool, tail: str, timestamps: bool, since: str | None, container: str) -> None:
    """Fetch the logs of a container."""
    from dockyard.runtime.logs import parse_since

    n = None if tail == "all" else _int_arg(tail, "--tail")
    since_ts = parse_since(since) if since else None
    try:
        for entry in engine(obj).logs(container, follow=follow, tail=n, since=since_ts):
            _emit(entry, timestamps)
    except KeyboardInterrupt:
        pass


def _int_arg(value: str, flag: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"invalid value for {flag}: {value!r}", hint="use a number") from None


@click.command()
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds before SIGKILL.")
@click.option("-s", "--signal", "sig", default=None, help="Signal to send first.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def stop(obj: Any, timeout: int | None, sig: str | None, containers: tuple[str, ...]) -> None:
    """Stop one or more running containers (STOPSIGNAL, then SIGKILL after -t seconds)."""
    eng = engine(obj)
    for ref in containers:
        if sig:
            c = eng.get(ref)
            c.config["stop_signal"] = sig if sig.upper().startswith("SIG") or sig.isdigit() else "SIG" + sig.upper()
            eng.records.update(c)
        eng.stop(ref, timeout)
        click.echo(ref)


@click.command()
@click.option("-s", "--signal", "sig", default="KILL", help="Signal to send.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def kill(obj: Any, sig: str, containers: tuple[str, ...]) -> None:
    """Kill one or more running containers."""
    eng = engine(obj)
    for ref in containers:
        eng.kill(ref, sig)
        click.echo(ref)


@click.command()
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds before SIGKILL.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def restart(obj: Any, timeout: int | None, containers: tuple[str, ...]) -> None:
    """Restart one or more containers."""
    eng = engine(obj)
    for ref in containers:
        eng.restart(ref, timeout)
        click.echo(ref)


@click.command()
@click.option("-f", "--force", is_flag=True, help="Kill and remove a running container.")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes too.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def rm(obj: Any, force: bool, volumes: bool, containers: tuple[str, ...]) -> None:
    """Remove one or more containers."""
    eng = engine(obj)
    failed: DockyardError | None = None
    for ref in containers:
        try:
            eng.remove(ref, force=force, volumes=volumes)
            click.echo(ref)
        except DockyardError as exc:
            failed = exc
            if len(containers) > 1:
                click.echo(f"Error: {exc.message}", err=True)
    if failed is not None:
        if len(containers) > 1:
            sys.exit(1)
        raise failed


@click.command(context_settings={"allow_interspersed_args": False})
@click.option("-i", "--interactive", is_flag=True)
@click.option("-t", "--tty", is_flag=True)
@click.option("-d", "--detach", is_flag=True)
@click.option("-e", "--env", multiple=True)
@click.option("-w", "--workdir", default=None)
@click.option("-u", "--user", default=None)
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_obj
def exec_(obj: Any, interactive: bool, tty: bool, detach: bool, env: tuple[str, ...],
          workdir: str | None, user: str | None, container: str, command: tuple[str, ...]) -> None:  # fmt: skip
    """Run a command in a running container."""
    from dockyard.runtime.requests import parse_env

    code = engine(obj).exec(container, list(command), env=parse_env(list(env), []),
                            workdir=workdir, user=user, tty=tty, interactive=interactive,
                            detach=detach)  # fmt: skip
    sys.exit(code)


@click.command()
@click.option("-f", "--format", "fmt", default=None, help="Go template.")
@click.option("--type", "kind", default=None, hidden=True)
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def inspect(obj: Any, fmt: str | None, kind: str | None, containers: tuple[str, ...]) -> None:
    """Show low-level information on containers (Docker's JSON shape)."""
    eng = engine(obj)
    docs = [eng.inspect(ref) for ref in containers]
    if fmt:
        from dockyard.cli.formatting import render_template

        for d in docs:
            click.echo(render_template(fmt, d))
        return
    click.echo(json.dumps(docs, indent=4))


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def wait(obj: Any, containers: tuple[str, ...]) -> None:
    """Block until containers stop, then print their exit codes."""
    eng = engine(obj)
    for ref in containers:
        click.echo(eng.wait(ref))


@click.command()
@click.argument("container")
@click.argument("private_port", required=False)
@click.pass_obj
def port(obj: Any, container: str, private_port: str | None) -> None:
    """List port mappings of a container."""
    for m in engine(obj).ports(container):
        key = f"{m.container_port}/{m.protocol}"
        if private_port and private_port not in (key, str(m.container_port)):
            continue
        line = f"{m.host_ip or '0.0.0.0'}:{m.host_port}"
        click.echo(line if private_port else f"{key} -> {line}")


@click.command()
@click.argument("container")
@click.argument("new_name")
@click.pass_obj
def rename(obj: Any, container: str, new_name: str) -> None:
    """Rename a container."""
    engine(obj).rename(container, new_name)


@click.command()
@click.argument("container")
@click.pass_obj
def top(obj: Any, container: str) -> None:
    """Display the running processes of a container."""
    click.echo(engine(obj).top(container).rstrip("\n"))


class _GoBool(click.ParamType):
    """A bool option value as Go's flag package reads it, `-p=false` included."""

    name = "boolean"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = value.removeprefix("=") if isinstance(value, str) else value
        return click.BOOL.convert(text, param, ctx)


@click.command()
@click.option("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").')
@click.option("-c", "--change", "changes", multiple=True, help="Apply Dockerfile instruction to the created image.")
@click.option("-m", "--message", default="", help="Commit message.")
@click.option("-p", "--pause", type=_GoBool(), default=True, show_default=True,
              help="Pause container during commit (-p=false, --pause=false).")
@click.argument("container_ref", metavar="CONTAINER")
@click.argument("repository", metavar="[REPOSITORY[:TAG]]", required=False)
@click.pass_obj
def commit(obj: Any, author: str, changes: tuple[str, ...], message: str, pause: bool,
           container_ref: str, repository: str | None) -> None:  # fmt: skip
    """Create a new image from a container's changes."""
    from dockyard.engine.commit import commit as commit_container

    result = commit_container(engine(obj), container_ref, repository, author=author,
                              message=message, changes=changes, pause=pause)  # fmt: skip
    for warning in result.warnings:
        click.echo(f"WARNING: {warning}", err=True)
    click.echo(result.id)


@click.group()
def container() -> None:
    """Manage containers."""


@container.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation.")
@click.pass_obj
def container_prune(obj: Any, force: bool) -> None:
    """Remove all stopped containers."""
    if not force:
        click.confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue?", abort=True)
    gone = engine(obj).prune()
    click.echo("Deleted Containers:")
    for cid in gone:
        click.echo(cid)
    click.echo("\nTotal reclaimed space: 0B")


@container.command("cleanup", hidden=True)
@click.argument("container_id")
@click.pass_obj
def container_cleanup(obj: Any, container_id: str) -> None:
    """conmon's exit command: release network and mounts; apply --rm and --restart."""
    time.sleep(0)
    engine(obj).cleanup(container_id)


COMMANDS = {"run": run, "create": create, "start": start, "ps": ps, "logs": logs, "stop": stop,
            "kill": kill, "restart": restart, "rm": rm, "exec": exec_, "inspect": inspect,
            "wait": wait, "port": port, "top": top, "commit": commit,
            "rename": rename}  # fmt: skip


def register(group: click.Group) -> None:
    for name, cmd in COMMANDS.items():
        # The top-level `inspect` is cmd_images' (containers first, then images, as docker's).
        if name != "inspect":
            group.add_command(cmd, name)
        container.add_command(cmd, name)
    container.add_command(ps, "ls")
    group.add_command(container, "container")
