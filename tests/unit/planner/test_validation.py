"""The schema check of owners: only built owners are checked, an owner with an invalid object
fails with the first violations in its reason (the rest as warnings), the objects named with
their files, and a kind without a schema is one warning per kind (not for Flux's kinds)."""

from __future__ import annotations

from typing import Any

from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredObject, Owner, OwnerStatus
from fluxform.planner.validation import validate_owners
from fluxform.validate import KubeSchemas

KS = ObjectId("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization")


def cm(name: str, **data: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "apps"}, "data": data}


def owner(*bodies: dict[str, Any], status: OwnerStatus = OwnerStatus.BUILT, oid: ObjectId = KS) -> Owner:
    objects = tuple(DesiredObject(ObjectId.from_manifest(b), str(b["apiVersion"]), b, oid) for b in bodies)
    return Owner(oid, "Kustomization", status, "src", "./apps", None, (), True, None, objects)


def locate(obj: ObjectId, of: Owner) -> str:
    return f"apps/{obj.name}.yaml"


KUBE = KubeSchemas.load("1.33")


def test_valid_owners_pass_and_invalid_ones_fail_with_file_and_path() -> None:
    verdict = validate_owners([owner(cm("a", x="1"), cm("b", n=1))], KUBE, locate)
    assert verdict.failed == {
        KS: "the API server would refuse it (Kubernetes 1.33 schemas): ConfigMap/apps/b (apps/b.yaml): "
        ".data.n: expected string, got integer"
    }
    assert verdict.diagnostics == ()


def test_more_than_five_violations_go_to_the_warnings() -> None:
    verdict = validate_owners([owner(cm("a", **{f"k{i}": i for i in range(4)}), cm("b", x=1, y=2, z=3))], KUBE, locate)
    reason = verdict.failed[KS]
    assert reason.count("expected string, got integer") == 5 and reason.endswith("(+2 more, listed in the warnings)")
    assert [d.summary for d in verdict.diagnostics] == [
        "ConfigMap/apps/b (apps/b.yaml): .data.y: expected string, got integer; .data.z: expected string, got integer"
    ]


def test_owners_not_built_are_not_checked() -> None:
    for status in (OwnerStatus.SUSPENDED, OwnerStatus.REMOTE, OwnerStatus.NOT_PLANNED):
        assert validate_owners([owner(cm("b", n=1), status=status)], KUBE, locate).failed == {}


def test_a_kind_without_schema_is_one_warning_and_flux_kinds_none() -> None:
    probe = {"apiVersion": "monitoring.example.io/v1", "kind": "Probe", "metadata": {"name": "p", "namespace": "a"}}
    alert = {"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert", "metadata": {"name": "x"}}
    verdict = validate_owners([owner(probe, {**probe, "metadata": {"name": "q"}}, alert)], KUBE, locate)
    assert verdict.failed == {}
    assert [d.summary for d in verdict.diagnostics] == [
        "Probe (monitoring.example.io/v1) has no schema (not a Kubernetes 1.33 kind, and no "
        "CustomResourceDefinition in the fleet): 2 object(s) not validated"
    ]


def probe_crd(spec_properties: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": spec_properties}}}
    version = {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "probes.monitoring.example.io"},
        "spec": {
            "group": "monitoring.example.io",
            "names": {"kind": "Probe", "plural": "probes"},
            "scope": "Namespaced",
            "versions": [version],
        },
    }


def test_a_crd_rendered_by_any_owner_judges_the_others() -> None:
    probe = {
        "apiVersion": "monitoring.example.io/v1",
        "kind": "Probe",
        "metadata": {"name": "p", "namespace": "a"},
        "spec": {"interval": "1m"},
    }
    infra = ObjectId("flux-system", "infra", "kustomize.toolkit.fluxcd.io", "Kustomization")
    not_planned = owner(probe_crd({}), oid=infra, status=OwnerStatus.NOT_PLANNED)  # its CRD may be installed
    assert validate_owners([not_planned, owner(probe)], KUBE, locate).failed == {}  # no properties: free-form
    strict = probe_crd({"x": {"type": "string"}})
    verdict = validate_owners([owner(strict, oid=infra), owner(probe)], KUBE, locate)
    assert verdict.failed[KS].endswith("Probe/a/p (apps/p.yaml): .spec.interval: field not declared in schema")
