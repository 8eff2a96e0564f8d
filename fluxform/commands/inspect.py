"""`fluxform get` and `fluxform build`: what a fleet defines, and what Flux would apply for it.

fluxform get ks clusters/staging --keys-dir keys
fluxform build hr podinfo clusters/staging --keys-dir keys
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from fluxform.commands.completion import complete_owner
from fluxform.commands.console import progress
from fluxform.commands.options import fleet_options, output_option
from fluxform.planner.model import DesiredState
from fluxform.planner.options import FleetOptions
from fluxform.views.documents import render_document

__all__ = ["build", "get"]


@click.group()
def get() -> None:
    """List what a fleet defines."""


def _register_table(name: str, kind: str, summary: str, *, releases: bool = True) -> None:
    """`fluxform get NAME PATH`: render the fleet, print one table (or document) of it. Without
    `releases` no HelmRelease is rendered, so no chart is fetched (Kustomizations need none)."""

    @get.command(name, help=summary)
    @click.argument("path", type=click.Path(path_type=Path))
    @output_option("text", "wide", "json", "yaml")
    @fleet_options
    def command(path: Path, output: str, fleet: FleetOptions) -> None:
        from fluxform.planner.workflow import rendered_fleet
        from fluxform.views import listing, tables

        with progress() as observer:
            request = fleet.request(progress=observer)
            if not releases:
                request = replace(request, discover=replace(request.discover, helm=None))
            with rendered_fleet(path, request) as (state, _):
                if output in ("json", "yaml"):
                    items: Callable[[DesiredState], list[dict[str, Any]]] = getattr(listing, _LISTINGS[kind][0])
                    text = render_document(listing.listing_document(kind, items(state), state), output)
                else:
                    table: Callable[..., str] = getattr(tables, _LISTINGS[kind][1])
                    text = table(state, wide=output == "wide")
        click.echo(text, nl=False)


#: get's type -> (listing.py items function, tables.py table function)
_LISTINGS = {
    "kustomizations": ("kustomization_items", "kustomization_table"),
    "sources": ("source_items", "sources_table"),
    "helmreleases": ("helm_release_items", "helm_release_table"),
}
_register_table("ks", "kustomizations", "Flux Kustomizations reachable from PATH, in apply order.", releases=False)
_register_table("sources", "sources", "Flux sources defined in the fleet and which Kustomizations use them.")
_register_table("hr", "helmreleases", "HelmReleases: chart, resolved version, source, release and values sources.")


@click.group()
def build() -> None:
    """Print rendered manifests."""


def _register_build(name: str, kind: str, summary: str, notice: str) -> None:
    """`fluxform build NAME OWNER PATH`: the manifests one owner renders, Secrets masked. Only
    the owner and what it needs are rendered; whatever else fails in the fleet."""

    @build.command(name, help=summary)
    @click.argument("owner_name", metavar="NAME", shell_complete=complete_owner(kind))
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--namespace", "-n", default="", help=f"Namespace of the {kind} (default: any).")
    @click.option("--show-secrets", is_flag=True, help=f"{notice} (said on stderr).")
    @fleet_options
    def command(owner_name: str, path: Path, namespace: str, show_secrets: bool, fleet: FleetOptions) -> None:
        from fluxform.planner.kustomization.discover import OwnerFocus
        from fluxform.planner.workflow import rendered_fleet
        from fluxform.views.tables import find_owner, owner_manifests

        namespace, owner_name = _qualified(owner_name, namespace)
        focus = OwnerFocus(kind, owner_name, namespace)
        with progress() as observer:
            request = fleet.request(progress=observer)
            request = replace(request, discover=replace(request.discover, purpose="build", focus=focus))
            with rendered_fleet(path, request) as (state, secrets):
                owner = find_owner(state, kind, owner_name, namespace)
                text = owner_manifests(owner, None if show_secrets else secrets.masking(None))
        if owner.reason:
            click.echo(f"fluxform: {owner.id}: {owner.reason}", err=True)
        for warning in (d for d in state.diagnostics if d.subject == owner.id):
            click.echo(f"Warning: {warning.one_line()}", err=True)
        if show_secrets:
            click.echo(f"fluxform: --show-secrets: {notice[0].lower()}{notice[1:]}", err=True)
        click.echo(text, nl=False)


def _qualified(name: str, namespace: str) -> tuple[str, str]:
    """(namespace, name) from NAME or NAMESPACE/NAME (as `get` prints it) and --namespace."""
    given, slash, short = name.rpartition("/")
    if not slash:
        return namespace, name
    if namespace and namespace != given:
        raise click.UsageError(f"{name} names namespace {given}, --namespace says {namespace}")
    return given, short


_register_build(
    "ks",
    "Kustomization",
    "The manifests Flux would apply for Kustomization NAME (Secret values masked).",
    "Printing decrypted Secret values in plaintext",
)
_register_build(
    "hr",
    "HelmRelease",
    "The manifests helm-controller would apply for HelmRelease NAME (Secret values masked).",
    "Printing Secret values in plaintext",
)
