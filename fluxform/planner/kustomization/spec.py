"""Typed views of the Flux objects fluxform interprets: Kustomizations and their sources.

Rendered objects we only diff stay plain mappings; these are the ones whose fields drive the
build, so they are validated once here and every later step can trust them.

    ks = FluxKustomization.from_doc(doc, origin=SourceLocation("clusters/prod/apps.yaml"))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxform.durations import parse_duration
from fluxform.errors import RenderError
from fluxform.objects import ObjectId, SourceLocation
from fluxform.planner.model import HealthCheck, HealthCheckExpr, OwnerSpec

__all__ = [
    "KUSTOMIZATION_GROUP",
    "SOURCE_KINDS",
    "FluxKustomization",
    "SourceRef",
    "is_flux_kustomization",
    "parse_duration",
]

KUSTOMIZATION_GROUP = "kustomize.toolkit.fluxcd.io"
SOURCE_GROUP = "source.toolkit.fluxcd.io"
SOURCE_KINDS = frozenset({"GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"})


def is_flux_kustomization(doc: Mapping[str, Any]) -> bool:
    api_version = str(doc.get("apiVersion") or "")
    return doc.get("kind") == "Kustomization" and api_version.startswith(KUSTOMIZATION_GROUP + "/")


@dataclass(frozen=True, order=True, slots=True)
class SourceRef:
    kind: str
    namespace: str
    name: str

    @property
    def id(self) -> ObjectId:
        return ObjectId(self.namespace, self.name, SOURCE_GROUP, self.kind)

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


def _mapping(value: Any, what: str, subject: ObjectId, origin: SourceLocation | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RenderError(f"{what} must be a mapping", subject=subject, location=origin)
    return dict(value)


def _bool(spec: Mapping[str, Any], key: str, subject: ObjectId, origin: SourceLocation | None) -> bool | None:
    value = spec.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise RenderError(
        f"spec.{key} must be true or false, not {value!r}",
        subject=subject,
        location=origin,
        hint="the API server rejects this Kustomization; write an unquoted boolean",
    )


def _list(value: Any, what: str, subject: ObjectId, origin: SourceLocation | None) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RenderError(f"{what} must be a list", subject=subject, location=origin)
    return value


@dataclass(frozen=True)
class FluxKustomization:
    """A `kustomize.toolkit.fluxcd.io/v1` Kustomization, as kustomize-controller reads it."""

    id: ObjectId
    origin: SourceLocation | None
    path: str  # as written; "" means the source root
    source_ref: SourceRef
    prune: bool
    suspend: bool
    wait: bool
    interval: str
    timeout: str | None
    target_namespace: str | None
    name_prefix: str | None
    name_suffix: str | None
    depends_on: tuple[ObjectId, ...]
    spec: Mapping[str, Any] = field(repr=False)  # the whole spec, for the generator and post-build
    manifest: Mapping[str, Any] = field(repr=False)
    apply_spec: OwnerSpec = field(default_factory=OwnerSpec)  # what apply needs (wait, health, force...)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], origin: SourceLocation | None = None) -> FluxKustomization:
        ks_id = ObjectId.from_manifest(doc)
        meta = doc.get("metadata") or {}
        if not ks_id.name:
            raise RenderError("Flux Kustomization has no metadata.name", location=origin)
        namespace = str(meta.get("namespace") or "")
        if not namespace:
            raise RenderError(
                "Flux Kustomization has no metadata.namespace",
                subject=ks_id,
                location=origin,
                hint="set metadata.namespace (Flux objects are namespaced, usually flux-system)",
            )
        spec = _mapping(doc.get("spec"), "spec", ks_id, origin)
        ref = spec.get("sourceRef")
        if not isinstance(ref, Mapping) or not ref.get("kind") or not ref.get("name"):
            raise RenderError(
                "spec.sourceRef is required (kind and name)",
                subject=ks_id,
                location=origin,
                hint="e.g. sourceRef: {kind: GitRepository, name: flux-system}",
            )
        if ref["kind"] not in SOURCE_KINDS:
            raise RenderError(
                f"spec.sourceRef.kind {ref['kind']!r} is not a Flux source kind",
                subject=ks_id,
                location=origin,
                hint="one of " + ", ".join(sorted(SOURCE_KINDS)),
            )
        source_ref = SourceRef(str(ref["kind"]), str(ref.get("namespace") or namespace), str(ref["name"]))
        depends_on: list[ObjectId] = []
        for dep in _list(spec.get("dependsOn"), "spec.dependsOn", ks_id, origin):
            if not isinstance(dep, Mapping) or not dep.get("name"):
                raise RenderError("spec.dependsOn entries need a name", subject=ks_id, location=origin)
            depends_on.append(
                ObjectId(
                    str(dep.get("namespace") or namespace),
                    str(dep["name"]),
                    KUSTOMIZATION_GROUP,
                    "Kustomization",
                )
            )
        for key in ("patches", "images", "components"):
            _list(spec.get(key), f"spec.{key}", ks_id, origin)
        for key in ("postBuild", "commonMetadata", "decryption"):
            _mapping(spec.get(key), f"spec.{key}", ks_id, origin)
        interval = str(spec.get("interval") or "")
        prune = _bool(spec, "prune", ks_id, origin)
        for required, value in (("interval", interval), ("prune", prune)):
            if value in ("", None):
                raise RenderError(
                    f"spec.{required} is required",
                    subject=ks_id,
                    location=origin,
                    hint="the Kustomization CRD requires spec.interval and spec.prune",
                )
        return cls(
            id=ObjectId(namespace, ks_id.name, KUSTOMIZATION_GROUP, "Kustomization"),
            origin=origin,
            path=str(spec.get("path") or ""),
            source_ref=source_ref,
            prune=bool(prune),
            suspend=bool(_bool(spec, "suspend", ks_id, origin)),
            wait=bool(_bool(spec, "wait", ks_id, origin)),
            interval=interval,
            timeout=str(spec["timeout"]) if spec.get("timeout") else None,
            target_namespace=str(spec["targetNamespace"]) if spec.get("targetNamespace") else None,
            name_prefix=str(spec["namePrefix"]) if spec.get("namePrefix") is not None else None,
            name_suffix=str(spec["nameSuffix"]) if spec.get("nameSuffix") is not None else None,
            depends_on=tuple(depends_on),
            spec=spec,
            manifest=doc,
            apply_spec=_apply_spec(spec, ks_id, origin),
        )

    @property
    def post_build(self) -> Mapping[str, Any] | None:
        value = self.spec.get("postBuild")
        return value if isinstance(value, Mapping) else None

    @property
    def common_metadata(self) -> Mapping[str, Any]:
        value = self.spec.get("commonMetadata")
        return value if isinstance(value, Mapping) else {}

    @property
    def decryption(self) -> Mapping[str, Any] | None:
        value = self.spec.get("decryption")
        return value if isinstance(value, Mapping) else None

    def timeout_seconds(self) -> float:
        """Flux: spec.timeout, else interval - 30s; never below 30 s."""
        try:
            if self.timeout:
                return max(30.0, parse_duration(self.timeout))
            return max(30.0, parse_duration(self.interval) - 30.0)
        except ValueError as exc:
            raise RenderError(f"invalid duration {exc.args[0]!r}", subject=self.id, location=self.origin) from exc


def _string(spec: Mapping[str, Any], key: str, what: str, subject: ObjectId, origin: SourceLocation | None) -> str:
    value = spec.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RenderError(f"{what}.{key} must be a string, not {value!r}", subject=subject, location=origin)
    return value


def _apply_spec(spec: Mapping[str, Any], subject: ObjectId, origin: SourceLocation | None) -> OwnerSpec:
    """The fields apply acts on (flux-semantics 4.7, 4.8), checked as the CRD would."""
    checks = []
    for entry in _list(spec.get("healthChecks"), "spec.healthChecks", subject, origin):
        if not isinstance(entry, Mapping) or not entry.get("kind") or not entry.get("name"):
            raise RenderError("spec.healthChecks entries need kind and name", subject=subject, location=origin)
        where = "spec.healthChecks[]"
        checks.append(
            HealthCheck(
                api_version=_string(entry, "apiVersion", where, subject, origin) or "apps/v1",
                kind=_string(entry, "kind", where, subject, origin),
                name=_string(entry, "name", where, subject, origin),
                namespace=_string(entry, "namespace", where, subject, origin),
            )
        )
    exprs = []
    for entry in _list(spec.get("healthCheckExprs"), "spec.healthCheckExprs", subject, origin):
        if not isinstance(entry, Mapping) or not entry.get("apiVersion") or not entry.get("current"):
            raise RenderError(
                "spec.healthCheckExprs entries need apiVersion and current", subject=subject, location=origin
            )
        where = "spec.healthCheckExprs[]"
        exprs.append(
            HealthCheckExpr(
                api_version=_string(entry, "apiVersion", where, subject, origin),
                kind=_string(entry, "kind", where, subject, origin),
                current=_string(entry, "current", where, subject, origin),
                in_progress=_string(entry, "inProgress", where, subject, origin),
                failed=_string(entry, "failed", where, subject, origin),
            )
        )
    return OwnerSpec(
        suspend=bool(_bool(spec, "suspend", subject, origin)),
        interval=str(spec.get("interval") or ""),
        timeout=str(spec.get("timeout") or ""),
        wait=bool(_bool(spec, "wait", subject, origin)),
        force=bool(_bool(spec, "force", subject, origin)),
        service_account_name=_string(spec, "serviceAccountName", "spec", subject, origin),
        target_namespace=str(spec.get("targetNamespace") or ""),
        health_checks=tuple(checks),
        health_check_exprs=tuple(exprs),
    )
