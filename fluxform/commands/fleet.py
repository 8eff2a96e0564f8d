"""Flags shared by every command that builds a fleet, and the request they describe.

Kept out of cli.py so command groups in fluxform/commands/ can use them without importing
the CLI itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from fluxform.planner.kustomization.cache import BuildCache, default_cache_dir
from fluxform.planner.kustomization.discover import DiscoverOptions
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.secrets import SecretOptions
from fluxform.planner.workflow import FleetRequest
from fluxform.sources.chart_cache import ChartCache

__all__ = ["fleet_options", "fleet_request", "helm_options", "write_private"]


def _parse_sources(values: Sequence[str]) -> dict[str, Path]:
    sources: dict[str, Path] = {}
    for value in values:
        name, sep, directory = value.partition("=")
        if not sep or not name or not directory:
            raise click.BadParameter(f"{value!r}: expected NAME=DIR (NAME as name, namespace/name or Kind/ns/name)")
        sources[name] = Path(directory)
    return sources


def helm_options(fleet: dict[str, Any]) -> HelmOptions:
    return HelmOptions(
        offline=bool(fleet.get("offline")),
        cache=ChartCache(Path(fleet["chart_cache"])) if fleet.get("chart_cache") else None,
        missing_charts=fleet.get("missing_charts") or "error",
        missing_objects=fleet.get("missing_objects") or "error",
    )


def fleet_request(fleet: dict[str, Any]) -> FleetRequest:
    cache = BuildCache.disabled() if fleet.get("no_cache") else BuildCache(Path(fleet["cache_dir"]) / "builds")
    discover = DiscoverOptions(
        sources=_parse_sources(fleet.get("source") or ()),
        repo_root=Path(fleet["repo_root"]) if fleet.get("repo_root") else None,
        strict_substitute=fleet.get("strict_substitute", True),
        jobs=fleet.get("jobs") or max(1, os.cpu_count() or 1),
        cache=cache,
        helm=helm_hook(helm_options(fleet)),
        missing_sources=fleet.get("missing_sources") or "error",
        missing_objects=fleet.get("missing_objects") or "error",
        missing_keys=fleet.get("missing_keys") or "error",
    )
    secrets = SecretOptions(
        decryption_keys=tuple(Path(p) for p in fleet.get("decryption_key") or ()),
        keys_dir=Path(fleet["keys_dir"]) if fleet.get("keys_dir") else None,
    )
    return FleetRequest(discover=discover, secrets=secrets)


def _skip_or_fail(flag: str, help_text: str) -> Any:
    """An `error|warn` policy for an input fluxform cannot get here."""
    return click.option(flag, type=click.Choice(["error", "warn"]), default="error", show_default=True, help=help_text)


def fleet_options(func: Any) -> Any:
    """Flags shared by every command that builds a fleet."""
    options = [
        click.option("--source", multiple=True, metavar="NAME=DIR", help="Map a Flux source to a local directory."),
        click.option("--repo-root", type=click.Path(file_okay=False), help="Root of the self source (default: found)."),
        click.option(
            "--strict-substitute/--no-strict-substitute",
            default=True,
            show_default=True,
            help="Fail on undefined ${vars} (Flux >= 2.9 default).",
        ),
        click.option("--jobs", type=int, default=0, help="Parallel builds (default: CPU count)."),
        click.option("--no-cache", is_flag=True, help="Do not use the build cache."),
        click.option(
            "--cache-dir", default=lambda: str(default_cache_dir()), show_default="~/.cache/fluxform", help="Cache dir."
        ),
        click.option(
            "--decryption-key",
            multiple=True,
            type=click.Path(exists=True, dir_okay=False),
            help="age identity file (*.agekey) or armored PGP private key (*.asc); repeatable.",
        ),
        click.option("--offline", is_flag=True, help="Charts only from the chart cache (air-gapped planning)."),
        click.option("--chart-cache", type=click.Path(file_okay=False), help="Chart cache directory."),
        _skip_or_fail(
            "--missing-charts", "A chart that cannot be fetched: fail, or skip its HelmRelease with a warning."
        ),
        _skip_or_fail(
            "--missing-sources",
            "A Flux source not mapped with --source: fail, or skip its Kustomizations with a warning.",
        ),
        _skip_or_fail(
            "--missing-objects",
            "A substituteFrom/valuesFrom object nothing in the fleet produces (made in the cluster, e.g. by "
            "external-secrets): fail, or skip its Kustomization or HelmRelease with a warning.",
        ),
        _skip_or_fail(
            "--missing-keys",
            "A Kustomization with SOPS secrets and no key given (CI without secrets): fail, or skip it, warning.",
        ),
        click.option(
            "--keys-dir",
            type=click.Path(exists=True, file_okay=False),
            help="Directory of Secret manifests named by spec.decryption.secretRef (Flux's sops-age).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
