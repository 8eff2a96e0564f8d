"""The one door to the Helm SDK wheel (`helm_python`, Helm v4 Go SDK through ctypes).

Every call into the SDK goes through here, including the single private one: the public
`Chart.render` cannot pass `.Capabilities` (kube version, API versions), so `render_chart`
calls the native `helm_render` with its JSON options when they are given. That call is
pinned to helm-python-sdk 0.2.2 (`PINNED_SDK`); `check_sdk()` refuses another version.

SDK quirks handled here (each pinned by a test):
* `render` mutates the loaded chart (Helm's ProcessDependencies drops disabled subcharts),
  so a `Chart` is rendered once and closed; load again for another render.
* `Chart.crds` after a render lists only CRDs of the chart and its *enabled* subcharts.
* Helm's cache/config/data homes are pointed at a private temp dir, so nothing touches
  the user's `~/.config/helm` or `~/.cache/helm`.

    with load_chart(Path("charts/podinfo")) as chart:
        files = render_chart(chart, values, RenderOptions(name="podinfo", namespace="apps"))
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from fluxform import yamlio
from fluxform.errors import RenderError

if TYPE_CHECKING:
    import helm_python

__all__ = [
    "DEFAULT_KUBE_VERSION",
    "PINNED_SDK",
    "RenderOptions",
    "chart_crds",
    "chart_dependencies",
    "chart_metadata",
    "chart_values",
    "check_sdk",
    "dependency_status",
    "load_chart",
    "package_chart",
    "parse_values_yaml",
    "parse_yaml_document",
    "render_chart",
    "sdk_version",
    "use_private_helm_home",
    "validate_release_name",
]

PINNED_SDK = "0.2.2"
#: What `.Capabilities.KubeVersion` is when no kube version is passed (Helm SDK v4.2.3).
DEFAULT_KUBE_VERSION = "v1.36.0"


def _sdk() -> ModuleType:
    """The SDK module, imported on first use: loading the Go library and its Python
    dependencies costs a quarter of a second that commands rendering no chart never need."""
    import helm_python
    import helm_python._native

    return helm_python


_home_lock = threading.Lock()
_home: Path | None = None


@dataclass(frozen=True, slots=True)
class RenderOptions:
    name: str  # release name
    namespace: str  # release namespace
    is_install: bool = True  # .Release.IsInstall vs .Release.IsUpgrade
    revision: int = 1
    kube_version: str | None = None  # None: the SDK default (DEFAULT_KUBE_VERSION)
    api_versions: tuple[str, ...] = ()  # "group/version" or "group/version/Kind" (a Kind adds its group/version)


def sdk_version() -> str:
    """`helm-python-sdk <wheel version> (Helm <Go SDK version>)`, for `fluxform version`."""
    return f"helm-python-sdk {_sdk().__version__} (Helm {_sdk().helm_sdk_version()})"


def check_sdk() -> None:
    """Refuse an SDK other than the one the private render call was verified against."""
    if _sdk().__version__ != PINNED_SDK:
        raise RenderError(
            f"helm-python-sdk {_sdk().__version__} is installed, fluxform needs {PINNED_SDK}",
            hint=f"pip install helm-python-sdk=={PINNED_SDK}",
        )


def use_private_helm_home() -> None:
    """Point HELM_CACHE_HOME/CONFIG_HOME/DATA_HOME at one private dir per process."""
    global _home
    with _home_lock:
        if _home is not None:
            return
        _home = Path(tempfile.mkdtemp(prefix="fluxform-helm-"))
        for var, sub in (("HELM_CACHE_HOME", "cache"), ("HELM_CONFIG_HOME", "config"), ("HELM_DATA_HOME", "data")):
            (_home / sub).mkdir(mode=0o700)
            os.environ[var] = str(_home / sub)
        atexit.register(shutil.rmtree, _home, True)


@contextmanager
def load_chart(source: Path | bytes) -> Iterator[helm_python.Chart]:
    """Load a chart dir, a .tgz path or .tgz bytes; closes the native handle on exit."""
    use_private_helm_home()
    try:
        chart = _sdk().Chart.load_archive(source) if isinstance(source, bytes) else _sdk().Chart.load(source)
    except _sdk().HelmError as exc:
        raise RenderError("chart could not be loaded", detail=_first_line(exc)) from exc
    try:
        yield chart
    finally:
        chart.close()


def chart_metadata(chart: helm_python.Chart) -> dict[str, Any]:
    return chart.metadata


def chart_values(chart: helm_python.Chart) -> dict[str, Any]:
    return chart.values


def chart_dependencies(chart: helm_python.Chart) -> list[dict[str, Any]]:
    """Subcharts actually loaded from `charts/` (declared-but-absent ones are not listed)."""
    return chart.dependencies


def chart_crds(chart: helm_python.Chart) -> list[dict[str, str]]:
    """`[{name, filename, data}]`; after `render_chart`, only enabled subcharts' CRDs."""
    return chart.crds


def render_chart(chart: helm_python.Chart, values: Mapping[str, Any], options: RenderOptions) -> dict[str, str]:
    """Templates rendered offline: `{template path: text}` (NOTES.txt included).

    Schema validation runs inside; its errors and template errors become RenderError
    with Helm's message."""
    use_private_helm_home()
    native: dict[str, Any] = {
        "name": options.name,
        "namespace": options.namespace,
        "revision": options.revision,
        "is_install": options.is_install,
        "is_upgrade": not options.is_install,
    }
    try:
        if options.kube_version is None and not options.api_versions:
            return chart.render(dict(values), **native)
        if options.kube_version is not None:
            native["kube_version"] = options.kube_version
        if options.api_versions:
            native["api_versions"] = _with_group_versions(options.api_versions)
        # Private: the only way to pass capabilities (see module docstring).
        text = _sdk()._native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(native))
    except _sdk().HelmValuesError as exc:
        raise RenderError("values do not match the chart's values.schema.json", detail=_squash(exc)) from exc
    except _sdk().HelmRenderError as exc:
        raise RenderError("chart template failed to render", detail=_squash(exc)) from exc
    except _sdk().HelmError as exc:
        raise RenderError("Helm render failed", detail=_squash(exc)) from exc
    rendered: dict[str, str] = json.loads(text)
    return rendered


def validate_release_name(name: str) -> None:
    """Helm's own rule (DNS-1123 label-like, at most 53 characters); Helm refuses others."""
    try:
        _sdk().validate_release_name(name)
    except _sdk().HelmError as exc:
        raise RenderError(f"invalid Helm release name {name!r}", detail=_squash(exc)) from exc


def _with_group_versions(api_versions: tuple[str, ...]) -> list[str]:
    """Helm's discovery-built VersionSet holds "group/version" *and* "group/version/Kind"
    entries, and `.Has` is an exact match: a Kind implies its group/version."""
    out = dict.fromkeys(api_versions)
    for entry in api_versions:
        if entry.count("/") == 2:
            out.setdefault(entry.rsplit("/", 1)[0])
        elif entry.count("/") == 1 and "." not in entry.split("/")[0] and entry.split("/")[1][:1].isupper():
            out.setdefault(entry.split("/")[0])  # core "v1/Pod" -> "v1"
    return list(out)


_LONG_NUMBER = re.compile(r"\d{16,}")


def parse_yaml_document(text: str) -> dict[str, Any]:
    """One YAML document as Go reads it (sigs.k8s.io/yaml), ~10x faster than pure Python;
    `{}` for an empty or comment-only document. Documents holding 16+ digit numbers go
    through yamlio instead, because the SDK's JSON hop turns integers into float64."""
    if _LONG_NUMBER.search(text):
        try:
            parsed = yamlio.load(text)
        except yamlio.YamlError as exc:
            raise RenderError("invalid YAML", detail=str(exc)) from exc
        if parsed is None:
            return {}
        if not isinstance(parsed, dict):
            raise RenderError("YAML document is not a mapping")
        return parsed
    return parse_values_yaml(text)


def parse_values_yaml(text: str) -> dict[str, Any]:
    """Helm's ReadValues (sigs.k8s.io/yaml): what Flux does with a valuesFrom document."""
    use_private_helm_home()
    try:
        values: dict[str, Any] = _sdk().values_from_yaml(text)
        return values
    except _sdk().HelmError as exc:
        raise RenderError("values are not valid YAML", detail=_squash(exc)) from exc


def dependency_status(chart_dir: Path) -> list[dict[str, Any]]:
    """`helm dependency list`: `[{name, version, repository, status}]`."""
    use_private_helm_home()
    try:
        found: list[dict[str, Any]] = _sdk().dependency_list(chart_dir)
        return found
    except _sdk().HelmError as exc:
        raise RenderError("chart dependencies could not be listed", detail=_squash(exc)) from exc


def package_chart(chart_dir: Path, destination: Path) -> Path:
    """`helm package`: writes `<name>-<version>.tgz` into destination."""
    use_private_helm_home()
    try:
        return Path(_sdk().package(chart_dir, destination=destination))
    except _sdk().HelmError as exc:
        raise RenderError("chart could not be packaged", detail=_squash(exc)) from exc


def _squash(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
