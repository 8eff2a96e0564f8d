"""Turning a ResolvedChart into a loaded Helm chart, ready to render once.

Most charts load straight from their archive bytes or directory. A chart needs a private
working copy (0700 temp dir, removed afterwards) when helm-controller would have changed
it first: a digest-suffixed version (OCIRepository), values.yaml replaced by merged
`valuesFiles`, dependencies added to `charts/`, or schema validation disabled. After loading, every dependency
declared in Chart.yaml must be present: Helm itself would drop a missing one silently.

    with open_chart(resolved) as chart:
        files = render_chart(chart, values, options)
"""

from __future__ import annotations

import dataclasses
import functools
import io
import shutil
import tarfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.helm.chart import ChartDependency, ResolvedChart
from fluxform.helm.sdk import archive_chart, chart_dependencies, chart_metadata, load_chart
from fluxform.scratch import scratch_dir

if TYPE_CHECKING:
    import helm_python

__all__ = ["detached", "open_chart"]


@contextmanager
def open_chart(resolved: ResolvedChart, *, without_schema: bool = False) -> Iterator[helm_python.Chart]:
    """Yield the loaded chart; a fresh load every time (rendering mutates the chart).

    `without_schema` drops every values.schema.json (chart and subcharts): the SDK's render
    always validates, and this is how `disableSchemaValidation` is honoured."""
    if not without_schema and not _needs_copy(resolved):
        source: Path | bytes = resolved.path if resolved.path is not None else _archive(resolved)
        with load_chart(source) as chart:
            _check_dependencies(chart, resolved)
            yield chart
        return
    with scratch_dir("fluxform-chart-") as work:
        chart_dir = _working_copy(resolved, work)
        if without_schema:
            for schema in chart_dir.rglob("values.schema.json"):
                schema.unlink()
        with load_chart(chart_dir) as chart:
            _check_dependencies(chart, resolved)
            yield chart


def detached(resolved: ResolvedChart) -> ResolvedChart:
    """The chart with every directory (a chart or a `file://` dependency read from a source
    artifact) replaced by its archive: usable after that artifact is gone (apply runs after
    discovery has removed its temporary source copies)."""
    if resolved.path is None and all(dep.path is None for dep in resolved.dependencies):
        return resolved
    data = resolved.data
    if resolved.path is not None:
        data = _directory_archive(resolved.path, resolved.digest)
    dependencies = []
    for dep in resolved.dependencies:
        if dep.path is not None:
            with load_chart(dep.path) as chart:
                dep = ChartDependency(dep.name, None, archive_chart(chart))
        dependencies.append(dep)
    return dataclasses.replace(resolved, path=None, data=data, dependencies=tuple(dependencies))


@functools.lru_cache(maxsize=32)
def _directory_archive(path: Path, tree_digest: str) -> bytes:
    """The archive of the chart directory `path` whose files digest to `tree_digest`
    (chart_dir.py). Every release of one chart in a run shares it: archiving costs ~25 ms
    a chart (a save to disk), once per release it was a third of a warm plan's Helm stage.
    Keyed by content too, so a directory that changed between two runs in one process is
    archived again."""
    with load_chart(path) as chart:
        return archive_chart(chart)


def _needs_copy(resolved: ResolvedChart) -> bool:
    return bool(resolved.chart_version) or resolved.values_override is not None or bool(resolved.dependencies)


def _archive(resolved: ResolvedChart) -> bytes:
    if resolved.data is None:
        raise RenderError(f"chart {resolved.name} has neither a directory nor an archive")
    return resolved.data


def _working_copy(resolved: ResolvedChart, work: Path) -> Path:
    if resolved.path is not None:
        chart_dir = work / resolved.path.name
        shutil.copytree(resolved.path, chart_dir, symlinks=False)
    else:
        chart_dir = _extract(_archive(resolved), work)
    if resolved.chart_version:
        _set_chart_version(chart_dir, resolved.version)
    if resolved.values_override is not None:
        (chart_dir / "values.yaml").write_text(yamlio.dump(dict(resolved.values_override)))
    for dep in resolved.dependencies:
        _add_dependency(chart_dir, dep.name, dep.path, dep.data)
    return chart_dir


def _extract(data: bytes, work: Path) -> Path:
    """Untar regular files and dirs only, refusing absolute paths and `..` (zip-slip)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
        for member in members:
            path = PurePosixPath(member.name)
            if path.is_absolute() or ".." in path.parts:
                raise RenderError(f"chart archive entry {member.name!r} escapes the chart")
        safe: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.11.4
        tar.extractall(work, members=members, **safe)
    tops = [p for p in work.iterdir() if p.is_dir()]
    if len(tops) != 1 or not (tops[0] / "Chart.yaml").is_file():
        raise RenderError("chart archive does not hold exactly one chart directory")
    return tops[0]


def _set_chart_version(chart_dir: Path, version: str) -> None:
    meta = yamlio.load((chart_dir / "Chart.yaml").read_text())
    meta["version"] = version
    (chart_dir / "Chart.yaml").write_text(yamlio.dump(meta, sort_keys=False))


def _add_dependency(chart_dir: Path, name: str, path: Path | None, data: bytes | None) -> None:
    charts = chart_dir / "charts"
    charts.mkdir(exist_ok=True)
    if path is not None:
        shutil.copytree(path, charts / name, symlinks=False)
    elif data is not None:
        (charts / f"{name}.tgz").write_bytes(data)


def _check_dependencies(chart: helm_python.Chart, resolved: ResolvedChart) -> None:
    declared = {str(d.get("name")) for d in chart_metadata(chart).get("dependencies") or [] if isinstance(d, Mapping)}
    loaded = {str(d.get("name")) for d in chart_dependencies(chart)}
    missing = sorted(declared - loaded)
    if missing:
        raise RenderError(
            f"chart {resolved.name} {resolved.version} is missing dependencies in charts/: {', '.join(missing)}",
            detail=resolved.source,
            hint="run `helm dependency build` on the chart, or use file:// / repository URLs fluxform can resolve",
        )
