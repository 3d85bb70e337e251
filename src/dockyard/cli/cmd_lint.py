"""`dockyard lint`: check a Dockerfile (and its build context) against best-practice rules."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import Any

import click

from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.lint.config import CONFIG_NAMES, LintConfig, load_config_text, parse_threshold
from dockyard.lint.context import LintContext, from_directory
from dockyard.lint.model import Finding
from dockyard.lint.report import FORMATS, render
from dockyard.lint.runner import exit_code, lint_text, load_rules, visible


def _read(path: Path, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        raise NotFound(f"{what} {path} not found", hint="check the path") from None
    except IsADirectoryError:
        raise InvalidArgument(f"{what} {path} is a directory", hint="name a file") from None
    except OSError as exc:
        raise InvalidArgument(f"cannot read {what} {path}: {exc.strerror}") from exc


def load_config(explicit: Path | None, context_dir: Path | None) -> LintConfig:
    """The lint config: an explicit file, else the first of CONFIG_NAMES in the context dir."""
    if explicit is not None:
        return load_config_text(_read(explicit, "lint config"), str(explicit))
    for base in [context_dir] if context_dir is not None else []:
        for name in CONFIG_NAMES:
            candidate = base / name
            if candidate.is_file():
                return load_config_text(_read(candidate, "lint config"), str(candidate))
    return LintConfig()


class StoreBaseEnv:
    """`base_env` for the linter: the ENV of a base image found in the local store, else None.

    The store is opened on the first question only, and never created: linting a Dockerfile on
    a machine without a store (or without the image) simply knows no base-image variables.
    """

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._store: Any = None
        self._answers: dict[str, list[str] | None] = {}

    def __call__(self, ref: str) -> list[str] | None:
        if ref not in self._answers:
            self._answers[ref] = self._lookup(ref)
        return self._answers[ref]

    def _lookup(self, ref: str) -> list[str] | None:
        from dockyard.store import MARKER, Store

        if self.root is None or not (self.root / MARKER).is_file():
            return None
        try:
            if self._store is None:
                self._store = Store(self.root)
            config = self._store.image(ref).config.config
        except NotFound:
            return None
        except (DockyardError, OSError, sqlite3.Error):  # unreadable store or image: lint on
            return None
        return list(config.env or []) if config is not None else None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def run_lint(
    dockerfile: Path,
    context_dir: Path | None,
    config: LintConfig,
    root: Path | None = None,
    text: str | None = None,
) -> list[Finding]:
    """Lint one Dockerfile; the context rules run when a context directory is given.

    `root` is the store root whose images tell which variables a base image's ENV sets.
    `text` is the Dockerfile's content when it was already read (e.g. from stdin).
    """
    if text is None:
        text = _read(dockerfile, "Dockerfile")
    base_env = StoreBaseEnv(root)
    try:
        if context_dir is not None:
            if not context_dir.is_dir():
                raise NotFound(f"build context {context_dir} is not a directory",
                               hint="pass the directory you would build from")
            context = from_directory(context_dir, dockerfile, base_env)
        else:
            context = LintContext(listed=False, base_env=base_env)
        return lint_text(text, str(dockerfile), config, context)
    finally:
        base_env.close()


def check_for_build(
    context_dir: Path | None,
    dockerfile_path: Path | None,
    root: Path | None = None,
    text: str | None = None,
    fmt: str = "tty",
) -> int:
    """`dockyard build --check`: lint as `dockyard lint` would, print the findings, return 0/1.

    `dockerfile_path` defaults to CONTEXT/Dockerfile; `text` is its content when the build read
    it already (stdin). The config file in the context and its failure threshold apply.
    """
    if dockerfile_path is None:
        dockerfile_path = (context_dir or Path(".")) / "Dockerfile"
    config = load_config(None, context_dir)
    findings = run_lint(dockerfile_path, context_dir, config, root, text)
    shown = visible(findings)
    out = render(shown, fmt, load_rules(), fmt == "tty" and sys.stdout.isatty())
    if out:
        click.echo(out, nl=False)
    if fmt == "tty":
        count = len(shown)
        click.echo(f"Check complete, {count or 'no'} warning{'' if count == 1 else 's'} found.")
    return exit_code(findings, config.failure_threshold)


@click.command("lint")
@click.argument("context", required=False, type=click.Path(path_type=Path))
@click.option("-f", "--file", "dockerfile", type=click.Path(path_type=Path),
              help="Dockerfile to check (default: CONTEXT/Dockerfile, or ./Dockerfile).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="tty", show_default=True)
@click.option("--ignore", "ignored", multiple=True, metavar="RULE", help="Skip a rule (repeat).")
@click.option("--failure-threshold", "threshold", default=None,
              type=click.Choice(["error", "warning", "info", "style", "none"]),
              help="Exit 1 when a finding is this severe or worse (default: info).")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Lint config file (default: .dockyard-lint.yaml or .hadolint.yaml in CONTEXT).")
@click.option("--trusted-registry", "trusted", multiple=True, metavar="REGISTRY",
              help="Only allow images from these registries (DL3026; repeat).")
@click.option("--no-color", is_flag=True, help="Never colour the output.")
@click.option("--list-rules", is_flag=True, help="Print every rule and exit.")
@click.pass_context
def lint_command(
    ctx: click.Context,
    context: Path | None,
    dockerfile: Path | None,
    fmt: str,
    ignored: tuple[str, ...],
    threshold: str | None,
    config_path: Path | None,
    trusted: tuple[str, ...],
    no_color: bool,
    list_rules: bool,
) -> None:
    """Check a Dockerfile against hadolint, BuildKit and dockyard rules.

    With CONTEXT (a directory), the rules that look at the build context run too: secrets a
    `COPY . .` would bake in, a missing .dockerignore, COPY of ignored paths.
    """
    rules = load_rules()
    if list_rules:
        for r in sorted(rules.values(), key=lambda r: r.id):
            click.echo(f"{r.id:34} {r.severity.label:8} {r.family:9} {r.message}")
        return
    if dockerfile is None:
        dockerfile = (context or Path(".")) / "Dockerfile"
    config = load_config(config_path, context)
    config.ignored.update(ignored)
    config.trusted_registries.extend(trusted)
    if threshold is not None:
        config.failure_threshold = parse_threshold(threshold)
    unknown = [r for r in ignored if r not in rules]
    if unknown:
        raise InvalidArgument(f"unknown rule {unknown[0]!r} in --ignore",
                              hint="`dockyard lint --list-rules` lists the rule ids")
    root = getattr(ctx.find_root().obj, "root", None)
    findings = run_lint(dockerfile, context, config, root)
    shown = visible(findings)
    colour = fmt == "tty" and not no_color and sys.stdout.isatty()
    out = render(shown, fmt, rules, colour)
    if out:
        click.echo(out, nl=False)
    code = exit_code(findings, config.failure_threshold)
    if code:
        sys.exit(code)


def register(group: click.Group) -> None:
    group.add_command(lint_command)
