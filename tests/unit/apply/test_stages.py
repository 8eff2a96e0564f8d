"""Flux's stages and kind order (fluxcd/pkg ssa sort.go, flux-semantics 4.3)."""

from __future__ import annotations

import pytest

from fluxform.apply.stages import Stage, prune_order, stage_of, staged
from fluxform.objects import ObjectId


def oid(kind: str, name: str = "x", namespace: str = "", group: str = "") -> ObjectId:
    return ObjectId(namespace, name, group, kind)


CRD = oid("CustomResourceDefinition", "widgets.example.com", group="apiextensions.k8s.io")
NS = oid("Namespace", "demo")
CLUSTER_ROLE = oid("ClusterRole", "reader", group="rbac.authorization.k8s.io")
STORAGE_CLASS = oid("StorageClass", "fast", group="storage.k8s.io")
GATEWAY_CLASS = oid("GatewayClass", "gw", group="gateway.networking.k8s.io")
CUSTOM_CLASS = oid("WidgetClass", "big", group="example.com")
CONFIGMAP = oid("ConfigMap", "settings", "demo")
SECRET = oid("Secret", "token", "demo")
SERVICE = oid("Service", "web", "demo")
DEPLOYMENT = oid("Deployment", "web", "demo", "apps")
WIDGET = oid("Widget", "w1", "demo", "example.com")
WEBHOOK = oid("ValidatingWebhookConfiguration", "check", group="admissionregistration.k8s.io")
SERVICE_ACCOUNT = oid("ServiceAccount", "web", "demo")


@pytest.mark.parametrize(
    ("obj", "stage"),
    [
        (CRD, Stage.DEFINITIONS),
        (NS, Stage.DEFINITIONS),
        (CLUSTER_ROLE, Stage.DEFINITIONS),
        (STORAGE_CLASS, Stage.CLASSES),
        (GATEWAY_CLASS, Stage.CLASSES),
        (CUSTOM_CLASS, Stage.CLASSES),
        (CONFIGMAP, Stage.REST),
        (WIDGET, Stage.REST),
        (oid("Role", "r", "demo", "rbac.authorization.k8s.io"), Stage.REST),
        (oid("Namespace", "n", group="example.com"), Stage.REST),  # a custom kind named Namespace
    ],
    ids=lambda v: str(v),
)
def test_stage_of(obj: ObjectId, stage: Stage) -> None:
    assert stage_of(obj) is stage


def test_staged_applies_definitions_then_classes_then_the_rest_each_in_kind_order() -> None:
    shuffled = [
        WIDGET,
        DEPLOYMENT,
        WEBHOOK,
        SERVICE,
        SECRET,
        CONFIGMAP,
        STORAGE_CLASS,
        NS,
        CLUSTER_ROLE,
        CRD,
        SERVICE_ACCOUNT,
    ]
    stages = staged(shuffled, key=lambda o: o)
    assert [s for s, _ in stages] == [Stage.DEFINITIONS, Stage.CLASSES, Stage.REST]
    assert stages[0][1] == [CRD, NS, CLUSTER_ROLE]
    assert stages[1][1] == [STORAGE_CLASS]
    # ssa sort.go: listed kinds in their rank, other kinds after them, webhooks last
    assert stages[2][1] == [SERVICE_ACCOUNT, CONFIGMAP, SECRET, SERVICE, DEPLOYMENT, WIDGET, WEBHOOK]
    assert all(stage.waited for stage, _ in stages[:2]) and not stages[2][0].waited


def test_same_kind_sorts_by_namespace_then_name() -> None:
    items = [oid("ConfigMap", "b", "ns2"), oid("ConfigMap", "a", "ns2"), oid("ConfigMap", "z", "ns1")]
    assert [str(o) for _, group in staged(items, key=lambda o: o) for o in group] == [
        "ConfigMap/ns1/z",
        "ConfigMap/ns2/a",
        "ConfigMap/ns2/b",
    ]


def test_prune_order_is_the_reverse_webhooks_first_namespaces_and_crds_last() -> None:
    assert prune_order([NS, CONFIGMAP, CRD, WEBHOOK, DEPLOYMENT], key=lambda o: o) == [
        WEBHOOK,
        DEPLOYMENT,
        CONFIGMAP,
        NS,
        CRD,
    ]
