"""fluxform's command line: the command groups, and the one place errors become exit codes.

Each command lives in `fluxform/commands/` and parses its flags into typed values
(`commands/options.py`); this module only assembles them. Every FluxformError becomes one
line on stderr and exit code 1. `plan --detailed-exitcode` follows Terraform: 0 no changes,
1 error, 2 changes.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn, TextIO

import click

from fluxform import __version__
from fluxform.commands.artifact import artifact_group
from fluxform.commands.charts import charts
from fluxform.commands.diff import diff
from fluxform.commands.inspect import build, get
from fluxform.commands.plan import plan, show
from fluxform.commands.state import force_unlock, state_group
from fluxform.errors import FluxformError, FluxformWarning

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="fluxform")
def cli() -> None:
    """Terraform-style plan/apply for Flux GitOps repositories."""


@cli.command()
def version() -> None:
    """Versions of fluxform and the tools it runs."""
    from fluxform.versions import tool_versions

    for name, value in tool_versions().items():
        click.echo(f"{name}: {value}")


for command in (plan, show, get, build, charts, diff, state_group, force_unlock):
    cli.add_command(command)
cli.add_command(artifact_group)


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
    with warnings.catch_warnings():
        warnings.simplefilter("default", FluxformWarning)
        warnings.showwarning = _show_warning
        _run(argv)


def _run(argv: Sequence[str] | None) -> NoReturn:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="fluxform", standalone_mode=False)
    except FluxformError as exc:
        click.echo(f"Error: {exc.one_line()}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code else 1)
    except SystemExit:
        raise
    sys.exit(0)
