"""fluxform's command line: the command groups, and the one place errors become exit codes.

Each command lives in `fluxform/commands/` and parses its flags into typed values
(`commands/options.py`); this module only assembles them. Every FluxformError becomes one
line on stderr and exit code 1. `plan --detailed-exitcode` follows Terraform: 0 no changes,
1 error, 2 changes.
"""

from __future__ import annotations

import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

import click

from fluxform import __version__
from fluxform.cancellation import Cancelled, stop_on_signals
from fluxform.commands.console import install as install_console_options
from fluxform.commands.examples import install as install_examples
from fluxform.commands.lazy import LazyCommand, LazyGroup
from fluxform.errors import FluxformError, FluxformWarning
from fluxform.scratch import remove_leftovers

__all__ = ["COMMANDS", "cli", "main"]

#: Every command but `version`, imported only when it runs (`--help` lists these summaries).
COMMANDS = {
    "apply": LazyCommand(
        "fluxform.commands.apply",
        "apply",
        "Apply a saved plan (PLAN_FILE), or plan the fleet at PATH, show it and apply it.",
    ),
    "artifact": LazyCommand(
        "fluxform.commands.artifact",
        "artifact_group",
        "Flux OCI artifacts: push, pull, inspect, export and import (air-gapped delivery).",
    ),
    "build": LazyCommand("fluxform.commands.inspect", "build", "Print rendered manifests."),
    "charts": LazyCommand("fluxform.commands.charts", "charts", "Chart cache for air-gapped planning."),
    "completion": LazyCommand(
        "fluxform.commands.completion", "completion", "Print the shell completion script for SHELL (bash, zsh or fish)."
    ),
    "diff": LazyCommand(
        "fluxform.commands.diff",
        "diff",
        "Compare the clusters at PATHS between --base and --head (a directory of clusters, such as "
        "clusters/, stands for each cluster below it). Without --head the change is the work tree as "
        "`git add -A` would stage it (edits, deletions, untracked files not ignored), compared with "
        "--base or HEAD. The work tree, index and repository are never changed.",
    ),
    "force-unlock": LazyCommand(
        "fluxform.commands.state", "force_unlock", "Break the state lock LOCK_ID left by a process that is gone."
    ),
    "get": LazyCommand("fluxform.commands.inspect", "get", "List what a fleet defines."),
    "graph": LazyCommand(
        "fluxform.commands.graph",
        "graph",
        "Print the owner graph of the fleet at PATH, or of a plan file saved with `plan --out`.",
    ),
    "plan": LazyCommand("fluxform.commands.plan", "plan", "Show what applying the fleet at PATH would change."),
    "rollback": LazyCommand(
        "fluxform.commands.rollback",
        "rollback",
        "Restore a revision the state recorded (--to SERIAL; default: the last complete apply of another "
        "source revision), re-rendered from its git commit and checked digest by digest.",
    ),
    "show": LazyCommand("fluxform.commands.plan", "show", "Print a saved plan file."),
    "state": LazyCommand(
        "fluxform.commands.state", "state_group", "Inspect and edit the recorded state (never touches the cluster)."
    ),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="fluxform")
def cli() -> None:
    """Terraform-style plan/apply for Flux GitOps repositories."""


@cli.command()
def version() -> None:
    """Versions of fluxform and the tools it runs."""
    from fluxform.versions import tool_versions

    for name, value in tool_versions().items():
        click.echo(f"{name}: {value}")


def _prepare(command: click.Command, path: str) -> None:
    """Every command gets --color/--no-color, --progress, -q, -v, and its --help ends with an
    example (commands/examples.py); lazy ones when they are loaded."""
    install_console_options(command)
    install_examples(command, path)


_prepare(cli, "")
cli.prepare = _prepare


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """A FluxformWarning is one `Warning: ...` line on stderr; other warnings as Python shows them."""
    if issubclass(category, FluxformWarning):
        click.echo(f"Warning: {' '.join(str(message).split())}", err=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the CLI. Whatever happens the process ends with one clear line on stderr for an
    error and exit code 1 (2 only for `plan --detailed-exitcode` with changes): usage
    errors, SIGINT/SIGTERM/SIGHUP (after cleaning up) and crashes included, never a
    traceback (it could quote a decrypted value)."""
    with warnings.catch_warnings():
        warnings.simplefilter("default", FluxformWarning)
        warnings.showwarning = _show_warning
        code = _run(argv)
    sys.exit(code)


def _run(argv: Sequence[str] | None) -> int:
    try:
        with stop_on_signals():
            try:
                args = list(argv) if argv is not None else None
                code = cli.main(args=args, prog_name="fluxform", standalone_mode=False)
            finally:
                remove_leftovers()
        return code if isinstance(code, int) else 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # every failure becomes one line and exit 1
        click.echo(f"Error: {_error_line(exc)}", err=True)
        return 1


def _error_line(exc: BaseException) -> str:
    """The one line an error is reported as."""
    cause = exc.__cause__ if isinstance(exc, click.exceptions.Abort) else exc
    if isinstance(cause, Cancelled):
        return f"stopped by {cause.signal_name}; temporary files were removed and child processes stopped"
    if isinstance(exc, FluxformError):
        return exc.one_line()
    if isinstance(exc, click.UsageError):
        where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        return " ".join(exc.format_message().split()) + where
    if isinstance(exc, click.ClickException):
        return " ".join(exc.format_message().split())
    if isinstance(exc, KeyboardInterrupt | click.exceptions.Abort):
        return "interrupted"
    if isinstance(exc, OSError):
        name = f"{exc.filename}: " if exc.filename else ""
        return f"{name}{exc.strerror or type(exc).__name__}"
    return f"internal error ({type(exc).__name__} at {_where(exc)}); please report it with the command that failed"


def _where(exc: BaseException) -> str:
    """Innermost fluxform frame of a crash (the message itself may quote a decrypted value)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f"{Path('fluxform')}/" in f.filename]
    if not frames:
        return "unknown"
    frame = frames[-1]
    return f"{frame.filename.rpartition('/fluxform/')[2] or frame.filename}:{frame.lineno}"
