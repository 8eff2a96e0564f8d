"""`--validate/--no-validate` and `--kube-version` (plan, diff): the schema check of rendered objects.

@click.command()
@validation_options
def command(validation: ValidationOptions) -> None: ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from fluxform.planner.validation import ValidationOptions

__all__ = ["validation_options"]

Command = Callable[..., Any]


def _kube_version(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """Checked while parsing, so a bad value is a usage error before anything is built."""
    if not value:
        return ""
    from fluxform.errors import RenderError
    from fluxform.validate import parse_kube_version

    try:
        parse_kube_version(value)
    except RenderError:
        raise click.BadParameter(f"{value!r} is not a Kubernetes version (write it as 1.33 or v1.33.2)") from None
    return value


def validation_options(func: Command) -> Command:
    """The command receives `validation: ValidationOptions` (on unless --no-validate)."""

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        enabled, version = kwargs.pop("validate"), kwargs.pop("kube_version")
        return func(*args, validation=ValidationOptions(enabled=enabled, kube_version=version), **kwargs)

    command = click.option(
        "--kube-version",
        metavar="VERSION",
        callback=_kube_version,
        help="Kubernetes version whose schemas objects are checked against (default: the cluster's when "
        "live, else the newest fluxform ships).",
    )(command)
    return click.option(
        "--validate/--no-validate",
        default=True,
        show_default=True,
        help="Check every rendered object against its schema (Kubernetes' own, or a CRD of the fleet); an owner "
        "with an invalid object is not planned, as Flux's apply of it would fail.",
    )(command)
