"""What chart resolution produces: a chart to load, and what must change before loading.

Kept apart from chart (repositories, OCI) and chart_dir (source directories) so
both build the same value, and materialize can turn it into a loaded chart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fluxform.errors import Diagnostic, RenderError
from fluxform.helm.sdk import parse_values_yaml
from fluxform.helm.spec import ChartTemplate
from fluxform.helm.values import merge_maps

__all__ = ["ChartDependency", "ResolvedChart", "merge_values_files"]


@dataclass(frozen=True)
class ChartDependency:
    """A dependency missing from the chart's `charts/`, to be added before loading."""

    name: str
    path: Path | None = None  # a local (file://) chart directory
    data: bytes | None = field(default=None, repr=False)  # a fetched archive


@dataclass(frozen=True)
class ResolvedChart:
    name: str
    version: str  # `.Chart.Version` as rendered and recorded by helm-controller
    source: str  # where it came from, for people: "HelmRepository/ns/name (url)"
    digest: str  # sha256 of the archive, or of the chart directory's files
    path: Path | None = None  # chart directory (GitRepository/Bucket charts)
    data: bytes | None = field(default=None, repr=False)  # chart archive (repository/OCI charts)
    chart_version: str = ""  # version in Chart.yaml when `version` differs (OCI digest suffix)
    values_override: Mapping[str, Any] | None = None  # merged valuesFiles, replaces values.yaml
    dependencies: tuple[ChartDependency, ...] = ()
    revision: str = ""  # OCI artifact revision `<tag>@sha256:...`
    diagnostics: tuple[Diagnostic, ...] = ()  # assumptions made (unknown HelmChart generation, ...)


def merge_values_files(tpl: ChartTemplate, read: Callable[[str], str | None], source: str) -> Mapping[str, Any]:
    """source-controller: valuesFiles merged left to right; the result replaces values.yaml."""
    merged: dict[str, Any] = {}
    for path in tpl.values_files:
        text = read(path)
        if text is None:
            if tpl.ignore_missing_values_files:
                continue
            raise RenderError(f"values file {path} not found in {source}", hint="or set ignoreMissingValuesFiles")
        merged = merge_maps(merged, parse_values_yaml(text))
    return merged
