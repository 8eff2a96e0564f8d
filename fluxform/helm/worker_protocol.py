"""What the release applier and its Helm worker say to each other over the worker's pipes:
one request as JSON on stdin, one result as JSON on the last line of stdout.

The request carries values (possibly decrypted Secret data) and the chart: it travels only
through the pipe, never argv, environment or files. The result carries no values: actions,
revisions, statuses and Helm's messages.

    request = WorkerRequest(operation="apply", release="shop", namespace="team", ...)
    worker_stdin = request.to_json()
    result = WorkerResult.from_json(last_stdout_line)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fluxform.helm.chart_model import ChartDependency, ResolvedChart

__all__ = ["Step", "WorkerRequest", "WorkerResult", "chart_from_wire", "chart_to_wire"]

OPERATIONS = ("apply", "rollback", "uninstall")


@dataclass(frozen=True)
class WorkerRequest:
    operation: str  # apply (install or upgrade, remediated) | rollback | uninstall
    release: str
    namespace: str  # release namespace, where Helm stores it too
    helm_release: Mapping[str, Any] = field(repr=False)  # the HelmRelease manifest: policy, post-renderers
    kubeconfig: str | None = None
    context: str = ""
    chart: Mapping[str, Any] | None = field(default=None, repr=False)  # chart_to_wire(); apply only
    values: Mapping[str, Any] | None = field(default=None, repr=False)  # composed values; apply only
    revision: int = 0  # rollback: the revision to go back to
    apply_methods: Mapping[str, str] = field(default_factory=dict)  # "revision" -> ssa | csa (stored releases)
    unbounded_attempts: int = 3  # cap on attempts when remediation.retries is negative
    timeout: float | None = None  # seconds, over every action's own timeout (--timeout)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> WorkerRequest:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("operation") not in OPERATIONS:
            raise ValueError("not a Helm worker request")
        return cls(**raw)


@dataclass(frozen=True)
class Step:
    """One Helm action the worker ran, with the revision and status it left."""

    action: str  # install | upgrade | test | rollback | uninstall | unlock
    revision: int | None  # the release's latest revision afterwards (None: no release left)
    status: str  # Helm status of that revision ("" when no release is left)
    error: str = ""  # Helm's message when the action failed
    error_kind: str = ""  # SDK error family (release, kube, values, render, ...)

    @property
    def failed(self) -> bool:
        return bool(self.error)


@dataclass(frozen=True)
class WorkerResult:
    revision_before: int | None
    revision_after: int | None
    status: str  # status of the latest revision afterwards ("" when the release is gone)
    steps: tuple[Step, ...] = ()
    error: str = ""  # why the operation failed as a whole ("" = success)
    error_kind: str = ""
    post_render_failures: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> WorkerResult:
        raw = json.loads(text)
        steps = tuple(Step(**s) for s in raw.pop("steps", ()))
        failures = tuple(raw.pop("post_render_failures", ()))
        return cls(**raw, steps=steps, post_render_failures=failures)


def chart_to_wire(chart: ResolvedChart) -> dict[str, Any]:
    """A ResolvedChart as JSON (archives base64; directories by path: charts are not secret)."""
    return {
        "name": chart.name,
        "version": chart.version,
        "source": chart.source,
        "digest": chart.digest,
        "path": str(chart.path) if chart.path is not None else None,
        "data": _b64(chart.data),
        "chart_version": chart.chart_version,
        "values_override": dict(chart.values_override) if chart.values_override is not None else None,
        "dependencies": [
            {"name": d.name, "path": str(d.path) if d.path is not None else None, "data": _b64(d.data)}
            for d in chart.dependencies
        ],
        "revision": chart.revision,
    }


def chart_from_wire(raw: Mapping[str, Any]) -> ResolvedChart:
    return ResolvedChart(
        name=str(raw["name"]),
        version=str(raw["version"]),
        source=str(raw["source"]),
        digest=str(raw["digest"]),
        path=Path(raw["path"]) if raw.get("path") else None,
        data=_unb64(raw.get("data")),
        chart_version=str(raw.get("chart_version") or ""),
        values_override=raw.get("values_override"),
        dependencies=tuple(
            ChartDependency(str(d["name"]), Path(d["path"]) if d.get("path") else None, _unb64(d.get("data")))
            for d in raw.get("dependencies") or ()
        ),
        revision=str(raw.get("revision") or ""),
    )


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None


def _unb64(text: str | None) -> bytes | None:
    return base64.b64decode(text) if text is not None else None
