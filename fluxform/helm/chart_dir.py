"""Charts inside a GitRepository/Bucket artifact directory (the fleet checkout, usually).

The chart path is relative to the artifact root and may not leave it; `valuesFiles` are
relative to the root too. Dependencies missing from `charts/` are resolved as
source-controller's DependencyManager does: `file://` paths from the artifact (version
constraint checked), `https://`/`oci://` repositories through the chart cache. Helm would
silently drop a missing one; here it is either resolved or an error.

    resolved = chart_from_source_dir(tpl, ref, ctx)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fluxform import yamlio
from fluxform.errors import RenderError, SourceError
from fluxform.helm.chart_model import ChartDependency, ResolvedChart, merge_values_files
from fluxform.helm.context import HelmContext
from fluxform.helm.sdk import dependency_status
from fluxform.helm.spec import ChartTemplate, SourceRef
from fluxform.sources.charts import ChartRepository
from fluxform.sources.semver import Constraint, SemverError, Version

__all__ = ["chart_from_source_dir", "tree_digest"]


def chart_from_source_dir(tpl: ChartTemplate, ref: SourceRef, ctx: HelmContext) -> ResolvedChart:
    root = ctx.source_dirs.get((ref.kind, ref.namespace, ref.name))
    if root is None:
        raise SourceError(
            f"{ref.kind} {ref.namespace}/{ref.name} has no local artifact",
            hint="the chart's source must be the fleet repository or a source fluxform has fetched",
        )
    chart_dir = _inside(root, tpl.chart, f"chart path {tpl.chart}")
    if not (chart_dir / "Chart.yaml").is_file():
        raise RenderError(f"no chart at {tpl.chart} in {ref.kind} {ref.namespace}/{ref.name} (Chart.yaml missing)")
    meta = _chart_yaml(chart_dir)
    source = f"{ref.kind}/{ref.namespace}/{ref.name} ({tpl.chart})"

    def read(path: str) -> str | None:
        target = _inside(root, path, f"values file {path}")
        return target.read_text() if target.is_file() else None

    values = merge_values_files(tpl, read, source) if tpl.values_files else None
    deps = _missing_dependencies(chart_dir, root, ctx)
    return ResolvedChart(
        str(meta.get("name") or ""), str(meta.get("version") or ""), source, tree_digest(chart_dir),
        path=chart_dir, values_override=values, dependencies=deps,
    )  # fmt: skip


def _chart_yaml(chart_dir: Path) -> Mapping[str, Any]:
    try:
        meta = yamlio.load((chart_dir / "Chart.yaml").read_text())
    except yamlio.YamlError as exc:
        raise RenderError(f"{chart_dir / 'Chart.yaml'} is not valid YAML", detail=str(exc)) from None
    if not isinstance(meta, Mapping):
        raise RenderError(f"{chart_dir / 'Chart.yaml'} is not a mapping")
    return meta


def _inside(root: Path, relative: str, what: str) -> Path:
    """A path inside the artifact; `..` escaping it is refused (source-controller does too)."""
    target = (root / relative.lstrip("/")).resolve()
    if not target.is_relative_to(root.resolve()):
        raise RenderError(f"{what} is outside its source artifact")
    return target


def tree_digest(directory: Path) -> str:
    """A chart directory's content digest (its ResolvedChart.digest): paths and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return "sha256:" + digest.hexdigest()


def _missing_dependencies(chart_dir: Path, root: Path, ctx: HelmContext) -> tuple[ChartDependency, ...]:
    listed = _chart_yaml(chart_dir).get("dependencies") or []
    declared = {str(d.get("name")): d for d in listed if isinstance(d, Mapping)}
    out: list[ChartDependency] = []
    for status in dependency_status(chart_dir):
        name = str(status.get("name"))
        if status.get("status") != "missing":
            continue
        dep = declared.get(name, {})
        repository, version = str(status.get("repository") or ""), str(dep.get("version") or "*")
        if repository.startswith("file://"):
            out.append(_local_dependency(chart_dir, root, name, repository, version))
        elif repository.startswith(("http://", "https://", "oci://")):
            out.append(_remote_dependency(name, repository, version, ctx))
        else:
            raise RenderError(
                f"chart dependency {name} is missing from charts/ and repository {repository!r} cannot be resolved",
                hint="vendor it into charts/ or use a file://, https:// or oci:// repository",
            )
    return tuple(out)


def _local_dependency(chart_dir: Path, root: Path, name: str, repository: str, version: str) -> ChartDependency:
    relative = repository.removeprefix("file://")
    target = (chart_dir / relative).resolve()
    if not target.is_relative_to(root.resolve()):
        raise RenderError(f"chart dependency {name} ({repository}) is outside the source artifact")
    if not (target / "Chart.yaml").is_file():
        raise RenderError(f"chart dependency {name}: no chart at {repository}")
    found = str(_chart_yaml(target).get("version") or "")
    if not _satisfies(version, found):
        raise RenderError(f"chart dependency {name}: version {found} at {repository} does not satisfy {version}")
    return ChartDependency(name, path=target)


def _remote_dependency(name: str, repository: str, version: str, ctx: HelmContext) -> ChartDependency:
    repo = ChartRepository(repository, type="oci" if repository.startswith("oci://") else "default")
    fetched = ctx.fetcher.repository_chart(repo, name, version, ctx.cache, offline=ctx.offline)
    return ChartDependency(name, data=fetched.data)


def _satisfies(constraint: str, version: str) -> bool:
    try:
        return Constraint.parse(constraint).check(Version.parse(version))
    except SemverError:
        return False
