"""FluxKustomization.from_doc: validation and defaults of the Flux Kustomization fields that
drive the build (flux-semantics 1.1, 4.8)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from fluxform.errors import RenderError
from fluxform.objects import ObjectId, SourceLocation
from fluxform.planner.kustomization.spec import FluxKustomization, SourceRef, is_flux_kustomization, parse_duration

ORIGIN = SourceLocation("clusters/dev/apps.yaml", 3, 0)
KS_GROUP = "kustomize.toolkit.fluxcd.io"


def ks_doc(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "interval": "10m",
        "prune": True,
        "path": "./apps",
        "sourceRef": {"kind": "GitRepository", "name": "repo"},
    }
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {**base, **spec},
    }


def test_valid_kustomization_fields() -> None:
    doc = ks_doc(prune=True, targetNamespace="tn", namePrefix="p-", nameSuffix="-s", wait=True, suspend=True)
    ks = FluxKustomization.from_doc(doc, ORIGIN)
    assert ks.id == ObjectId("flux-system", "apps", KS_GROUP, "Kustomization")
    assert ks.origin == ORIGIN
    assert ks.path == "./apps"
    assert (ks.prune, ks.wait, ks.suspend) == (True, True, True)
    assert (ks.target_namespace, ks.name_prefix, ks.name_suffix) == ("tn", "p-", "-s")
    assert ks.spec == doc["spec"]


def test_defaults_when_optional_fields_absent() -> None:
    """Flux defaults: wait/suspend false, path the source root, no timeout."""
    doc = ks_doc()
    del doc["spec"]["path"]
    ks = FluxKustomization.from_doc(doc)
    assert (ks.prune, ks.wait, ks.suspend, ks.path, ks.timeout) == (True, False, False, "", None)


@pytest.mark.parametrize("field", ["interval", "prune"])
def test_crd_required_fields(field: str) -> None:
    """The Kustomization CRD requires spec.interval and spec.prune: the API server refuses it."""
    doc = ks_doc()
    del doc["spec"][field]
    with pytest.raises(RenderError, match=rf"spec\.{field} is required"):
        FluxKustomization.from_doc(doc)


def test_prune_must_be_a_boolean_not_a_string() -> None:
    """`prune: "false"` would be truthy in Python; the API server rejects the string."""
    with pytest.raises(RenderError, match=r"spec\.prune must be true or false"):
        FluxKustomization.from_doc(ks_doc(prune="false"))


def test_source_ref_namespace_defaults_to_the_kustomization_namespace() -> None:
    """1.1 step 1: sourceRef.namespace defaults to the KS namespace."""
    ks = FluxKustomization.from_doc(ks_doc())
    assert ks.source_ref == SourceRef("GitRepository", "flux-system", "repo")
    assert ks.source_ref.id == ObjectId("flux-system", "repo", "source.toolkit.fluxcd.io", "GitRepository")


def test_source_ref_explicit_namespace_kept() -> None:
    ks = FluxKustomization.from_doc(ks_doc(sourceRef={"kind": "OCIRepository", "name": "oci", "namespace": "shared"}))
    assert str(ks.source_ref) == "OCIRepository/shared/oci"


def test_depends_on_namespace_defaults_to_the_kustomization_namespace() -> None:
    """4.8: dependsOn[].namespace defaults to the KS's own."""
    ks = FluxKustomization.from_doc(ks_doc(dependsOn=[{"name": "infra"}, {"name": "crds", "namespace": "other"}]))
    assert ks.depends_on == (
        ObjectId("flux-system", "infra", KS_GROUP, "Kustomization"),
        ObjectId("other", "crds", KS_GROUP, "Kustomization"),
    )


@pytest.mark.parametrize("kind", ["GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"])
def test_every_flux_source_kind_accepted(kind: str) -> None:
    """1.1 step 1: GitRepository | OCIRepository | Bucket | ExternalArtifact."""
    assert FluxKustomization.from_doc(ks_doc(sourceRef={"kind": kind, "name": "s"})).source_ref.kind == kind


INVALID = [
    ("missing sourceRef", {"sourceRef": None}, "spec.sourceRef is required"),
    ("sourceRef without name", {"sourceRef": {"kind": "GitRepository"}}, "spec.sourceRef is required"),
    ("sourceRef without kind", {"sourceRef": {"name": "x"}}, "spec.sourceRef is required"),
    ("sourceRef not a mapping", {"sourceRef": "repo"}, "spec.sourceRef is required"),
    ("bad source kind", {"sourceRef": {"kind": "HelmRepository", "name": "x"}}, "'HelmRepository' is not a Flux"),
    ("dependsOn entry without name", {"dependsOn": [{"namespace": "x"}]}, "spec.dependsOn entries need a name"),
    ("dependsOn not a list", {"dependsOn": {"name": "x"}}, "spec.dependsOn must be a list"),
    ("patches not a list", {"patches": {"patch": "x"}}, "spec.patches must be a list"),
    ("postBuild not a mapping", {"postBuild": ["x"]}, "spec.postBuild must be a mapping"),
]


@pytest.mark.parametrize(("spec", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_spec_is_a_render_error_naming_the_object(spec: dict[str, Any], message: str) -> None:
    doc = ks_doc(**spec)
    if spec.get("sourceRef", "") is None:
        del doc["spec"]["sourceRef"]
    with pytest.raises(RenderError, match=re.escape(message)) as info:
        FluxKustomization.from_doc(doc, ORIGIN)
    assert info.value.subject == ObjectId("flux-system", "apps", KS_GROUP, "Kustomization")
    assert info.value.location == ORIGIN


def test_missing_namespace_is_a_render_error() -> None:
    """Flux objects are namespaced; the namespace defaults every reference, so it is required."""
    doc = ks_doc()
    del doc["metadata"]["namespace"]
    with pytest.raises(RenderError, match=r"has no metadata\.namespace") as info:
        FluxKustomization.from_doc(doc, ORIGIN)
    assert info.value.location == ORIGIN
    assert "flux-system" in info.value.hint


def test_missing_name_is_a_render_error() -> None:
    doc = ks_doc()
    del doc["metadata"]["name"]
    with pytest.raises(RenderError, match=r"has no metadata\.name"):
        FluxKustomization.from_doc(doc, ORIGIN)


TIMEOUTS = [
    ("default interval - 30s", {"interval": "10m"}, 570.0),
    ("default for 1h", {"interval": "1h"}, 3570.0),
    ("default floor 30s (interval 1m)", {"interval": "1m"}, 30.0),
    ("default floor 30s (interval 45s)", {"interval": "45s"}, 30.0),
    ("explicit timeout wins", {"interval": "10m", "timeout": "2m"}, 120.0),
    ("explicit timeout above interval", {"interval": "1m", "timeout": "5m"}, 300.0),
    ("explicit timeout below 30s raised", {"interval": "10m", "timeout": "10s"}, 30.0),
    ("compound duration", {"interval": "1h30m"}, 5370.0),
]


@pytest.mark.parametrize(("spec", "seconds"), [c[1:] for c in TIMEOUTS], ids=[c[0] for c in TIMEOUTS])
def test_timeout_default_and_floor(spec: dict[str, Any], seconds: float) -> None:
    """4.8: timeout = spec.timeout, else interval - 30s; never below 30 s."""
    assert FluxKustomization.from_doc(ks_doc(**spec)).timeout_seconds() == seconds


def test_invalid_duration_is_a_render_error() -> None:
    ks = FluxKustomization.from_doc(ks_doc(interval="ten minutes"), ORIGIN)
    with pytest.raises(RenderError, match="invalid duration 'ten minutes'") as info:
        ks.timeout_seconds()
    assert info.value.location == ORIGIN


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90.0), ("1h30m", 5400.0), ("1.5h", 5400.0), ("500ms", 0.5), ("2m30s", 150.0), ("0", 0.0)],
)
def test_parse_duration_go_syntax(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10", "m", "1x", "1m 30s", "-"])
def test_parse_duration_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_from_doc_does_not_mutate_the_document() -> None:
    doc = ks_doc(dependsOn=[{"name": "infra"}])
    original = copy.deepcopy(doc)
    FluxKustomization.from_doc(doc)
    assert doc == original


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization"}, True),
        ({"apiVersion": "kustomize.toolkit.fluxcd.io/v1beta2", "kind": "Kustomization"}, True),
        ({"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}, False),
        ({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "HelmRelease"}, False),
    ],
    ids=["v1", "v1beta2", "kustomize's own config", "other kind"],
)
def test_is_flux_kustomization_tells_flux_from_kustomize(doc: dict[str, str], expected: bool) -> None:
    assert is_flux_kustomization(doc) is expected


def test_apply_spec_carries_what_apply_acts_on() -> None:
    """wait, healthChecks (apiVersion defaults to apps/v1), healthCheckExprs, timeout, force and
    serviceAccountName are read once here, so a plan file never needs the Kustomization's manifest."""
    doc = ks_doc(
        wait=True,
        timeout="3m",
        force=True,
        serviceAccountName="deployer",
        targetNamespace="apps",
        healthChecks=[
            {"kind": "Deployment", "name": "web", "namespace": "apps"},
            {"apiVersion": "v1", "kind": "Service", "name": "web", "namespace": "apps"},
        ],
        healthCheckExprs=[{"apiVersion": "example.com/v1", "kind": "Widget", "current": "status.ready"}],
    )
    spec = FluxKustomization.from_doc(doc, ORIGIN).apply_spec
    assert (spec.wait, spec.timeout, spec.force, spec.interval) == (True, "3m", True, "10m")
    assert (spec.service_account_name, spec.target_namespace, spec.suspend) == ("deployer", "apps", False)
    assert [(c.api_version, c.kind, c.name, c.namespace) for c in spec.health_checks] == [
        ("apps/v1", "Deployment", "web", "apps"),
        ("v1", "Service", "web", "apps"),
    ]
    (expr,) = spec.health_check_exprs
    assert (expr.api_version, expr.kind, expr.current, expr.in_progress, expr.failed) == (
        "example.com/v1", "Widget", "status.ready", "", ""
    )  # fmt: skip
    assert spec.release is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"healthChecks": [{"kind": "Deployment"}]}, "spec.healthChecks entries need kind and name"),
        ({"healthChecks": {"kind": "Deployment"}}, "spec.healthChecks must be a list"),
        ({"healthCheckExprs": [{"kind": "Widget"}]}, "spec.healthCheckExprs entries need apiVersion and current"),
        ({"force": "yes"}, "spec.force must be true or false"),
        ({"serviceAccountName": 7}, "spec.serviceAccountName must be a string"),
    ],
    ids=["check-without-name", "checks-not-a-list", "expr-without-current", "force-not-bool", "sa-not-string"],
)
def test_apply_spec_errors_name_the_kustomization_and_field(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError, match=re.escape(message)) as caught:
        FluxKustomization.from_doc(ks_doc(**extra), ORIGIN)
    assert caught.value.subject == ObjectId("flux-system", "apps", KS_GROUP, "Kustomization")
    assert caught.value.location == ORIGIN
