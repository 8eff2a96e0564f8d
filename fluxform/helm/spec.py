"""Typed, validated view of a HelmRelease (helm.toolkit.fluxcd.io/v2) for rendering.

Only the fields that change what gets rendered or where are read; everything is checked
here so later steps can trust the types. Defaults are helm-controller's (see
flux-semantics.md 5.x); where its docs and code disagree the code wins and a comment says so.

    hr = HelmReleaseSpec.from_doc(doc, SourceLocation("apps/podinfo.yaml"))
    hr.chart_template.source_ref  # SourceRef(kind="HelmRepository", name="podinfo", namespace="flux-system")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxform.errors import RenderError
from fluxform.helm.policy import ReleasePolicy, read_policy
from fluxform.objects import ObjectId, SourceLocation

__all__ = [
    "CRD_POLICIES",
    "POST_RENDER_STRATEGIES",
    "ChartRef",
    "ChartTemplate",
    "HelmReleaseSpec",
    "KustomizePostRenderer",
    "SourceRef",
    "ValuesReference",
]

HELM_GROUP = "helm.toolkit.fluxcd.io"
_VERSIONS = ("v2", "v2beta2", "v2beta1")
CRD_POLICIES = ("Skip", "Create", "CreateReplace")
POST_RENDER_STRATEGIES = ("combined", "nohooks", "separate")
#: helm-controller internal/action/crds.go: `crdPolicyOrDefault` returns Create for an empty
#: policy on install *and* upgrade (the API docs claim upgrade defaults to Skip).
DEFAULT_CRD_POLICY = "Create"


@dataclass(frozen=True, slots=True)
class SourceRef:
    kind: str
    name: str
    namespace: str


@dataclass(frozen=True, slots=True)
class ChartTemplate:
    """`spec.chart.spec`: source-controller builds a HelmChart from it."""

    chart: str  # chart name (HelmRepository) or path in the artifact (GitRepository/Bucket)
    version: str  # semver range, "*" when unset
    source_ref: SourceRef
    reconcile_strategy: str  # ChartVersion | Revision
    values_files: tuple[str, ...]
    ignore_missing_values_files: bool
    verify: bool = False  # spec.verify set (cosign/notation); fluxform cannot check signatures


@dataclass(frozen=True, slots=True)
class ChartRef:
    """`spec.chartRef`: an existing OCIRepository or HelmChart."""

    kind: str
    name: str
    namespace: str


@dataclass(frozen=True, slots=True)
class ValuesReference:
    kind: str  # ConfigMap | Secret
    name: str
    values_key: str  # default values.yaml
    target_path: str
    optional: bool
    literal: bool


@dataclass(frozen=True, slots=True)
class KustomizePostRenderer:
    patches: tuple[Mapping[str, Any], ...]  # {patch: str, target: {...}} as in kustomize
    images: tuple[Mapping[str, Any], ...]  # {name, newName, newTag, digest}


@dataclass(frozen=True, slots=True)
class HelmReleaseSpec:
    id: ObjectId
    origin: SourceLocation | None
    release_name: str  # spec.releaseName as written ("" when unset)
    target_namespace: str
    storage_namespace: str
    chart_template: ChartTemplate | None
    chart_ref: ChartRef | None
    values: Mapping[str, Any]  # spec.values (never mutated; compose_values copies)
    values_from: tuple[ValuesReference, ...]
    post_renderers: tuple[KustomizePostRenderer, ...]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    post_render_strategy: str
    install_crds: str
    upgrade_crds: str
    install_disable_schema_validation: bool
    upgrade_disable_schema_validation: bool
    install_disable_hooks: bool
    install_create_namespace: bool
    upgrade_disable_hooks: bool
    suspend: bool
    remote_cluster: bool = False  # spec.kubeConfig: the release goes to another cluster
    # what apply needs, not the render (planner/model.py OwnerSpec)
    interval: str = ""
    timeout: str = ""  # "" = helm-controller's 5m
    service_account_name: str = ""
    install_disable_wait: bool = False
    upgrade_disable_wait: bool = False
    upgrade_force: bool = False
    policy: ReleasePolicy = field(default_factory=ReleasePolicy)  # how each Helm action runs (apply)
    #: the manifest it was read from (the Helm worker reads it again); may hold inline values
    source: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.id.name

    @property
    def namespace(self) -> str:
        return self.id.namespace

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], origin: SourceLocation | None = None) -> HelmReleaseSpec:
        """Validate a HelmRelease manifest; RenderError names the object and the field."""
        oid = ObjectId.from_manifest(doc)
        reader = _Reader(oid, origin)
        group, _, version = str(doc.get("apiVersion") or "").rpartition("/")
        if doc.get("kind") != "HelmRelease" or group != HELM_GROUP or version not in _VERSIONS:
            raise reader.error("not a HelmRelease", f"apiVersion {doc.get('apiVersion')!r}, kind {doc.get('kind')!r}")
        if not oid.name or not oid.namespace:
            raise reader.error("HelmRelease needs metadata.name and metadata.namespace")
        spec = reader.mapping(doc, "spec", required=True)
        install = reader.mapping(spec, "install")
        upgrade = reader.mapping(spec, "upgrade")
        common = reader.mapping(spec, "commonMetadata")
        template, chart_ref = _chart_source(reader, spec, oid.namespace)
        return cls(
            id=oid,
            origin=origin,
            release_name=reader.string(spec, "releaseName"),
            target_namespace=reader.string(spec, "targetNamespace"),
            storage_namespace=reader.string(spec, "storageNamespace"),
            chart_template=template,
            chart_ref=chart_ref,
            values=reader.mapping(spec, "values"),
            values_from=tuple(_values_ref(reader, item) for item in reader.items(spec, "valuesFrom")),
            post_renderers=tuple(_post_renderer(reader, item) for item in reader.items(spec, "postRenderers")),
            common_labels=reader.string_map(common, "labels"),
            common_annotations=reader.string_map(common, "annotations"),
            post_render_strategy=reader.choice(spec, "postRenderStrategy", POST_RENDER_STRATEGIES, "combined"),
            install_crds=reader.choice(install, "crds", CRD_POLICIES, DEFAULT_CRD_POLICY),
            upgrade_crds=reader.choice(upgrade, "crds", CRD_POLICIES, DEFAULT_CRD_POLICY),
            install_disable_schema_validation=reader.boolean(install, "disableSchemaValidation"),
            upgrade_disable_schema_validation=reader.boolean(upgrade, "disableSchemaValidation"),
            install_disable_hooks=reader.boolean(install, "disableHooks"),
            install_create_namespace=reader.boolean(install, "createNamespace"),
            upgrade_disable_hooks=reader.boolean(upgrade, "disableHooks"),
            suspend=reader.boolean(spec, "suspend"),
            remote_cluster=spec.get("kubeConfig") is not None,
            interval=reader.string(spec, "interval"),
            timeout=reader.string(spec, "timeout"),
            service_account_name=reader.string(spec, "serviceAccountName"),
            install_disable_wait=reader.boolean(install, "disableWait"),
            upgrade_disable_wait=reader.boolean(upgrade, "disableWait"),
            upgrade_force=reader.boolean(upgrade, "force"),
            policy=read_policy(reader, spec),
            source=doc,
        )


def _chart_source(
    reader: _Reader, spec: Mapping[str, Any], namespace: str
) -> tuple[ChartTemplate | None, ChartRef | None]:
    if (spec.get("chart") is None) == (spec.get("chartRef") is None):
        raise reader.error("HelmRelease needs exactly one of spec.chart and spec.chartRef")
    if spec.get("chart") is not None:
        return _chart_template(reader, spec, namespace), None
    return None, _chart_ref(reader, spec, namespace)


def _chart_template(reader: _Reader, spec: Mapping[str, Any], namespace: str) -> ChartTemplate:
    chart = reader.mapping(spec, "chart", required=True)
    tpl = reader.mapping(chart, "spec", required=True, where="spec.chart.spec")
    ref = reader.mapping(tpl, "sourceRef", required=True, where="spec.chart.spec.sourceRef")
    kind = reader.choice(ref, "kind", ("HelmRepository", "GitRepository", "Bucket"), "")
    name = reader.string(ref, "name")
    chart_name = reader.string(tpl, "chart")
    if not kind or not name or not chart_name:
        raise reader.error("spec.chart.spec needs chart and sourceRef {kind, name}")
    return ChartTemplate(
        chart=chart_name,
        version=reader.string(tpl, "version") or "*",
        source_ref=SourceRef(kind, name, reader.string(ref, "namespace") or namespace),
        reconcile_strategy=reader.choice(tpl, "reconcileStrategy", ("ChartVersion", "Revision"), "ChartVersion"),
        values_files=tuple(reader.string_list(tpl, "valuesFiles")),
        ignore_missing_values_files=reader.boolean(tpl, "ignoreMissingValuesFiles"),
        verify=bool(tpl.get("verify")),
    )


def _chart_ref(reader: _Reader, spec: Mapping[str, Any], namespace: str) -> ChartRef:
    ref = reader.mapping(spec, "chartRef", required=True)
    kind = reader.choice(ref, "kind", ("OCIRepository", "HelmChart"), "")
    name = reader.string(ref, "name")
    if not kind or not name:
        raise reader.error("spec.chartRef needs kind (OCIRepository or HelmChart) and name")
    return ChartRef(kind, name, reader.string(ref, "namespace") or namespace)


def _values_ref(reader: _Reader, item: Mapping[str, Any]) -> ValuesReference:
    kind = reader.choice(item, "kind", ("ConfigMap", "Secret"), "")
    name = reader.string(item, "name")
    if not kind or not name:
        raise reader.error("spec.valuesFrom entries need kind (ConfigMap or Secret) and name")
    return ValuesReference(
        kind=kind,
        name=name,
        values_key=reader.string(item, "valuesKey") or "values.yaml",
        target_path=reader.string(item, "targetPath"),
        optional=reader.boolean(item, "optional"),
        literal=reader.boolean(item, "literal"),
    )


def _post_renderer(reader: _Reader, item: Mapping[str, Any]) -> KustomizePostRenderer:
    kustomize = reader.mapping(item, "kustomize")
    patches = tuple(reader.items(kustomize, "patches"))
    for patch in patches:
        if not isinstance(patch.get("patch"), str):
            raise reader.error("spec.postRenderers[].kustomize.patches[] need a patch string")
    return KustomizePostRenderer(patches=patches, images=tuple(reader.items(kustomize, "images")))


class _Reader:
    """Typed field access that raises RenderError naming the HelmRelease and field."""

    def __init__(self, oid: ObjectId, origin: SourceLocation | None) -> None:
        self.oid, self.origin = oid, origin

    def error(self, summary: str, detail: str = "") -> RenderError:
        return RenderError(summary, detail=detail, subject=self.oid, location=self.origin)

    def mapping(
        self, parent: Mapping[str, Any], key: str, *, required: bool = False, where: str = ""
    ) -> Mapping[str, Any]:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.error(f"missing {where or key}")
            return {}
        if not isinstance(value, Mapping):
            raise self.error(f"{where or key} must be a mapping")
        return value

    def items(self, parent: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.error(f"{key} must be a list of mappings")
        return value

    def string(self, parent: Mapping[str, Any], key: str) -> str:
        value = parent.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.error(f"{key} must be a string", f"got {value!r}")
        return value

    def string_list(self, parent: Mapping[str, Any], key: str) -> list[str]:
        value = parent.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(f"{key} must be a list of strings")
        return value

    def string_map(self, parent: Mapping[str, Any], key: str) -> Mapping[str, str]:
        value = self.mapping(parent, key)
        if not all(isinstance(v, str) for v in value.values()):
            raise self.error(f"{key} values must be strings")
        return value

    def boolean(self, parent: Mapping[str, Any], key: str) -> bool:
        value = parent.get(key, False)
        if not isinstance(value, bool):
            raise self.error(f"{key} must be true or false", f"got {value!r}")
        return value

    def choice(self, parent: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
        value = parent.get(key)
        if value is None or value == "":
            return default
        if value not in allowed:
            raise self.error(f"{key} must be one of {', '.join(allowed)}", f"got {value!r}")
        return str(value)
