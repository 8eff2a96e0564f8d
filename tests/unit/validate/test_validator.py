"""Schemas of built-in kinds (Kubernetes' own, per version) and of custom resources (the
fleet's CRDs, with the API server's structural rules): what server-side apply refuses is a
violation naming the field path, and no message quotes a value."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.validate import KubeSchemas, SchemaValidator, crd_schemas, parse_kube_version
from tests.support.fleets import STRICT_WIDGET_CRD

SECRET_VALUE = "hunter2-do-not-print-7f3a"


@pytest.fixture(scope="module")
def kube() -> KubeSchemas:
    return KubeSchemas.load("1.33")


def deployment(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]},
            },
        },
    }
    body["spec"].update(spec)
    return body


def lines(validator: SchemaValidator, manifest: dict[str, Any]) -> list[str]:
    found = validator.check(manifest)
    assert found is not None, "expected a schema"
    return [v.line() for v in found]


def test_a_valid_deployment_has_no_violations(kube: KubeSchemas) -> None:
    assert lines(SchemaValidator(kube, {}), deployment()) == []


def test_replicas_two_is_a_type_error_at_its_path(kube: KubeSchemas) -> None:
    assert lines(SchemaValidator(kube, {}), deployment(replicas="two")) == [
        ".spec.replicas: expected integer, got string"
    ]


def test_an_unknown_container_field_is_not_declared_in_schema(kube: KubeSchemas) -> None:
    body = deployment()
    body["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    assert lines(SchemaValidator(kube, {}), body) == [
        ".spec.template.spec.containers[0].imagePullPolice: field not declared in schema"
    ]


def test_every_violation_of_an_object_is_listed_in_path_order(kube: KubeSchemas) -> None:
    body = deployment(replicas="two")
    body["metadata"]["labels"]["version"] = 1.2  # labels are strings
    body["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "PORT", "value": 8080}]
    del body["spec"]["selector"]
    assert lines(SchemaValidator(kube, {}), body) == [
        ".metadata.labels.version: expected string, got number",
        ".spec.replicas: expected integer, got string",
        ".spec.selector: required field missing",
        ".spec.template.spec.containers[0].env[0].value: expected string, got integer",
    ]


def test_int_or_string_and_quantities_take_both_forms_and_null(kube: KubeSchemas) -> None:
    body = deployment(strategy={"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": None}})
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": 1, "memory": "64Mi"}}
    body["spec"]["template"]["spec"]["containers"][0]["ports"][0]["targetPort"] = None
    assert lines(SchemaValidator(kube, {}), body) == [
        ".spec.template.spec.containers[0].ports[0].targetPort: field not declared in schema"
    ]


def test_no_message_quotes_a_value(kube: KubeSchemas) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default"},
        "data": {"token": ["c2VjcmV0"]},
        "immutable": SECRET_VALUE,
        "type": {"nested": SECRET_VALUE},
    }
    found = lines(SchemaValidator(kube, {}), secret)
    assert found == [
        ".data.token: expected string, got array",
        ".immutable: expected boolean, got string",
        ".type: expected string, got object",
    ]
    assert SECRET_VALUE not in repr(SchemaValidator(kube, {}).check(secret))


def test_a_kind_of_a_group_kubernetes_does_not_serve_has_no_schema(kube: KubeSchemas) -> None:
    validator = SchemaValidator(kube, {})
    assert validator.check({"apiVersion": "cert-manager.io/v1", "kind": "Certificate"}) is None
    # file names keep only a group's first label: apps.example.com/v1 is not apps/v1
    assert validator.check({"apiVersion": "apps.example.com/v1", "kind": "Deployment"}) is None
    assert validator.check({"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy"}) is None  # removed in 1.25


def test_a_version_serves_the_apis_it_had() -> None:
    cron = {"apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3", "kind": "FlowSchema", "metadata": {"name": "x"}}
    assert SchemaValidator(KubeSchemas.load("1.28"), {}).check(cron) is not None
    assert SchemaValidator(KubeSchemas.load("1.33"), {}).check(cron) is None  # v1beta3 was removed in 1.32


@pytest.mark.parametrize(
    ("asked", "used", "noted"),
    [("1.33", (1, 33), False), ("v1.31.4-eks-1", (1, 31), False), ("1.99", None, True), ("1.10", (1, 25), True)],
)
def test_versions_outside_the_shipped_range_take_the_nearest_with_a_note(
    asked: str, used: tuple[int, int] | None, noted: bool
) -> None:
    schemas = KubeSchemas.load(asked)
    if used is not None:
        assert schemas.version == used
    assert bool(schemas.notes) is noted


def test_a_bad_version_is_one_clear_error() -> None:
    with pytest.raises(RenderError, match="not a Kubernetes version"):
        parse_kube_version("latest")


WIDGET = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}}


def widget(**spec: Any) -> dict[str, Any]:
    return {**copy.deepcopy(WIDGET), "spec": spec}


def test_a_custom_resource_is_checked_against_its_crd(kube: KubeSchemas) -> None:
    validator = SchemaValidator(kube, crd_schemas([yamlio.load(STRICT_WIDGET_CRD)]))
    assert lines(validator, widget(size=3)) == []
    assert lines(validator, widget(size=3, colour="red")) == [".spec.colour: field not declared in schema"]
    assert lines(validator, widget(size=0)) == [".spec.size: must be at least 1"]
    assert lines(validator, widget(size="3")) == [".spec.size: expected integer, got string"]


def test_a_custom_resource_metadata_is_object_meta(kube: KubeSchemas) -> None:
    validator = SchemaValidator(kube, crd_schemas([yamlio.load(STRICT_WIDGET_CRD)]))
    body = widget(size=1)
    body["metadata"]["labels"] = {"tier": True}
    assert lines(validator, body) == [".metadata.labels.tier: expected string, got boolean"]


def crd(schema: dict[str, Any], *, served: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": served, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        },
    }


STRUCTURAL = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "free": {"type": "object"},  # no properties: free-form
                "kept": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"inner": {"type": "object", "properties": {"a": {"type": "string"}}}},
                },
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {}},
                "mode": {"type": "string", "enum": ["a", "b"], "nullable": True},
                "either": {"type": "object", "oneOf": [{"required": ["x"]}, {"required": ["y"]}],
                           "properties": {"x": {"type": "string"}, "y": {"type": "string"}}},
            },
        }
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"port": 80}, [], id="int-or-string takes an integer"),
        pytest.param({"port": "http"}, [], id="int-or-string takes a string"),
        pytest.param({"port": True}, [".spec.port: expected integer or string, got boolean"], id="not a boolean"),
        pytest.param({"free": {"anything": {"goes": 1}}}, [], id="an object without properties is free-form"),
        pytest.param({"kept": {"inner": {"b": 1}, "other": 2}}, [], id="preserve-unknown-fields reaches the subtree"),
        pytest.param({"kept": {"inner": {"a": 1}}}, [".spec.kept.inner.a: expected string, got integer"],
                     id="declared fields are still typed under preserve-unknown-fields"),
        pytest.param({"labels": {"a": "b", "c": 1}}, [".spec.labels.c: expected string, got integer"],
                     id="additionalProperties types a map"),
        pytest.param({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}}, [],
                     id="an embedded resource takes apiVersion, kind and metadata"),
        pytest.param({"mode": None}, [], id="null is unset"),
        pytest.param({"mode": "c"}, ['.spec.mode: must be one of "a", "b"'], id="enum"),
        pytest.param({"either": {"x": "1"}}, [], id="oneOf with required"),
        pytest.param({"either": {"x": "1", "y": "2"}}, [".spec.either: matches more than one of the exclusive forms"],
                     id="oneOf exclusive"),
    ],
)  # fmt: skip
def test_crd_structural_rules(kube: KubeSchemas, spec: dict[str, Any], expected: list[str]) -> None:
    assert lines(SchemaValidator(kube, crd_schemas([crd(STRUCTURAL)])), widget(**spec)) == expected


def test_a_version_not_served_has_no_schema(kube: KubeSchemas) -> None:
    assert SchemaValidator(kube, crd_schemas([crd(STRUCTURAL, served=False)])).check(widget()) is None
