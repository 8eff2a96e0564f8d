"""The one door to the Helm SDK wheel (`helm_python`, Helm v4 Go SDK through ctypes).

Every call into the SDK goes through here, including the private ones: the public
`Chart.render` cannot pass `.Capabilities` (kube version, API versions), so `render_chart`
calls the native `helm_render` with its JSON options when they are given; and the public
`Config.install/upgrade/rollback` cannot pass what helm-controller sets (server-side apply,
forced conflicts, take-ownership, skipped CRDs, waiting for Jobs, hooks, a post-renderer
and its strategy, schema and OpenAPI validation), so `HelmReleases` calls `helm_install`,
`helm_upgrade` and `helm_rollback` with the full options JSON (the keys were read from the
wheel's strict decoder, which rejects unknown ones). Those calls are pinned to
helm-python-sdk 0.2.2 (`PINNED_SDK`); `check_sdk()` refuses another version.

Release actions run only in the Helm worker process (helm/worker.py): the SDK takes Helm's
server-side apply field manager from the process's argv[0], and its Go runtime reads the
environment (HELM_* homes, plugin dir) once, when the library loads.

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
from fluxform.errors import FluxformError, RenderError

if TYPE_CHECKING:
    import helm_python

__all__ = [
    "DEFAULT_KUBE_VERSION",
    "PINNED_SDK",
    "WORKER_HOME_ENV",
    "HelmActionFailed",
    "HelmReleases",
    "RenderOptions",
    "archive_chart",
    "chart_crds",
    "chart_dependencies",
    "chart_metadata",
    "chart_values",
    "check_sdk",
    "dependency_status",
    "helm_home_environment",
    "load_chart",
    "package_chart",
    "parse_values_yaml",
    "parse_yaml_document",
    "render_chart",
    "sdk_version",
    "use_private_helm_home",
    "validate_release_name",
    "wheel_version",
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


def wheel_version() -> str:
    """The helm-python-sdk wheel's version (it pins the Go Helm SDK inside)."""
    return str(_sdk().__version__)


def check_sdk() -> None:
    """Refuse an SDK other than the one the private render call was verified against."""
    if _sdk().__version__ != PINNED_SDK:
        raise RenderError(
            f"helm-python-sdk {_sdk().__version__} is installed, fluxform needs {PINNED_SDK}",
            hint=f"pip install helm-python-sdk=={PINNED_SDK}",
        )


#: Set in a Helm worker's environment: the private Helm home its parent made for it.
WORKER_HOME_ENV = "FLUXFORM_HELM_HOME"


def helm_home_environment(root: Path) -> dict[str, str]:
    """The environment that points Helm at a private home under `root` (made here, 0700):
    what a Helm worker must be started with, because the SDK's Go runtime reads its
    environment once, when the library loads, and never sees later changes."""
    env = {WORKER_HOME_ENV: str(root)}
    for var, sub in (("HELM_CACHE_HOME", "cache"), ("HELM_CONFIG_HOME", "config"), ("HELM_DATA_HOME", "data")):
        (root / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        env[var] = str(root / sub)
    (root / "data" / "plugins").mkdir(mode=0o700, exist_ok=True)
    env["HELM_PLUGINS"] = str(root / "data" / "plugins")
    return env


def use_private_helm_home() -> None:
    """Point HELM_CACHE_HOME/CONFIG_HOME/DATA_HOME at one private dir per process (a Helm
    worker keeps the home its parent gave it)."""
    global _home
    with _home_lock:
        if _home is not None:
            return
        if os.environ.get(WORKER_HOME_ENV):
            _home = Path(os.environ[WORKER_HOME_ENV])
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


def archive_chart(chart: helm_python.Chart) -> bytes:
    """A loaded chart as the `.tgz` Helm would write (chartutil.Save: no dependency check,
    `.helmignore` already applied by the load)."""
    with tempfile.TemporaryDirectory(prefix="fluxform-chart-archive-") as out:
        try:
            return Path(chart.save(out)).read_bytes()
        except _sdk().HelmError as exc:
            raise RenderError("chart could not be archived", detail=_squash(exc)) from exc


def package_chart(chart_dir: Path, destination: Path) -> Path:
    """`helm package`: writes `<name>-<version>.tgz` into destination."""
    use_private_helm_home()
    try:
        return Path(_sdk().package(chart_dir, destination=destination))
    except _sdk().HelmError as exc:
        raise RenderError("chart could not be packaged", detail=_squash(exc)) from exc


class HelmActionFailed(FluxformError):
    """A Helm release action failed; `kind` is the SDK's error family (release, kube,
    not-found, cancelled, values, render, storage, ...)."""

    def __init__(self, summary: str, *, kind: str, detail: str = "") -> None:
        super().__init__(summary, detail=detail)
        self.kind = kind


class HelmReleases:
    """Release actions on one cluster through the SDK, releases stored in `namespace`
    (the SDK keeps a release's storage in its release namespace: it re-targets the whole
    configuration, storage included, to an action's namespace).

        with HelmReleases(kubeconfig, "kubeapi", "team") as helm:
            helm.install(chart, "shop", values, {"wait": "watcher", "timeout_seconds": 300})
    """

    def __init__(self, kubeconfig: Path | None, context: str, namespace: str) -> None:
        options: dict[str, Any] = {"namespace": namespace}
        if kubeconfig is not None:
            options["kubeconfig_path"] = str(kubeconfig)
        if context:
            options["kube_context"] = context
        self.namespace = namespace
        self._config = _sdk().Config(**options)

    def __enter__(self) -> HelmReleases:
        return self

    def __exit__(self, *exc: object) -> None:
        self._config.close()

    def install(
        self, chart: helm_python.Chart, name: str, values: Mapping[str, Any], options: Mapping[str, Any]
    ) -> dict[str, Any]:
        """`helm install` with helm-controller's options (private: see the module docstring)."""
        return self._release_call("helm_install", "install", chart, name, values, options)

    def upgrade(
        self, chart: helm_python.Chart, name: str, values: Mapping[str, Any], options: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self._release_call("helm_upgrade", "upgrade", chart, name, values, options)

    def rollback(self, name: str, options: Mapping[str, Any]) -> None:
        """Roll back to `options["version"]` (private call: server-side apply, wait for Jobs, history)."""
        with _failures("rollback", name):
            _sdk()._native.call_status("helm_rollback", self._config._raw(), name, json.dumps(dict(options)))

    def uninstall(self, name: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """`helm uninstall` (private call: hooks and deletion propagation are options there only)."""
        with _failures("uninstall", name):
            text = _sdk()._native.call_string("helm_uninstall", self._config._raw(), name, json.dumps(dict(options)))
        found: dict[str, Any] = json.loads(text)
        return found

    def test(self, name: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """`helm test` (private call: timeout and name filters are options there only); a
        failed test is a HelmActionFailed."""
        with _failures("test", name):
            text = _sdk()._native.call_string("helm_test_run", self._config._raw(), name, json.dumps(dict(options)))
        found: dict[str, Any] = json.loads(text)
        return found

    def history(self, name: str) -> list[dict[str, Any]]:
        """Revisions oldest first; [] when the release does not exist."""
        try:
            with _failures("history", name):
                found: list[dict[str, Any]] = self._config.history(name)
        except HelmActionFailed as exc:
            if exc.kind == "not-found":
                return []
            raise
        return found

    def _release_call(
        self,
        function: str,
        verb: str,
        chart: helm_python.Chart,
        name: str,
        values: Mapping[str, Any],
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        native = _sdk()._native
        with _failures(verb, name):
            text = native.call_string(
                function,
                self._config._raw(),
                native.HANDLE(0),  # no cancellation context: the worker process is the unit of cancellation
                chart._raw(),
                None,  # no chart reference: the loaded chart
                name,
                json.dumps(values),
                json.dumps({"namespace": self.namespace, **options}),
            )
        result: dict[str, Any] = json.loads(text)
        return result


_KINDS = {
    "HelmNotFoundError": "not-found",
    "HelmCancelledError": "cancelled",
    "HelmKubeError": "kube",
    "HelmValuesError": "values",
    "HelmRenderError": "render",
    "HelmStorageError": "storage",
    "HelmReleaseError": "release",
    "HelmInvalidArgError": "invalid-argument",
}


@contextmanager
def _failures(verb: str, name: str) -> Iterator[None]:
    """SDK errors as HelmActionFailed naming the action and release, Helm's message kept."""
    try:
        yield
    except _sdk().HelmError as exc:
        kind = _KINDS.get(type(exc).__name__, "helm")
        raise HelmActionFailed(f"Helm {verb} of release {name} failed", kind=kind, detail=_squash(exc)) from None


def _squash(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
