"""ObjectId: Flux inventory ids (flux-semantics 4.5), one case per rule.

Id format `<namespace>_<name>_<group>_<Kind>`; cluster-scoped objects have an empty namespace,
core objects an empty group; RBAC names write ':' as '__'. Parsing goes from both ends:
namespace up to the first '_', Kind after the last, group after the new last, the rest is
the name (fluxcd/cli-utils pkg/object/objmetadata.go).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluxform.objects import RBAC_KINDS, ObjectId, SourceLocation

RBAC = "rbac.authorization.k8s.io"

# (rule, object id, inventory id)
INVENTORY_IDS = [
    ("4.5 namespaced object in a named group", ObjectId("default", "podinfo", "apps", "Deployment"),
     "default_podinfo_apps_Deployment"),
    ("4.5 cluster-scoped object has an empty namespace", ObjectId("", "ns1", "", "Namespace"), "_ns1__Namespace"),
    ("4.5 core group is empty", ObjectId("default", "cfg", "", "ConfigMap"), "default_cfg__ConfigMap"),
    ("4.5 dotted group kept whole", ObjectId("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization"),
     "flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization"),
    ("4.5 ClusterRole ':' written as '__'", ObjectId("", "system:controller:foo", RBAC, "ClusterRole"),
     "_system__controller__foo_rbac.authorization.k8s.io_ClusterRole"),
    ("4.5 RoleBinding ':' written as '__'", ObjectId("kube-system", "system:bar", RBAC, "RoleBinding"),
     "kube-system_system__bar_rbac.authorization.k8s.io_RoleBinding"),
    ("4.5 Role ':' written as '__'", ObjectId("team", "a:b", RBAC, "Role"), "team_a__b_rbac.authorization.k8s.io_Role"),
    ("4.5 ClusterRoleBinding ':' written as '__'", ObjectId("", "x:y", RBAC, "ClusterRoleBinding"),
     "_x__y_rbac.authorization.k8s.io_ClusterRoleBinding"),
    ("4.5 name with dots is not split", ObjectId("default", "a.b.c", "example.com", "Widget"),
     "default_a.b.c_example.com_Widget"),
]  # fmt: skip


@pytest.mark.parametrize(("oid", "inventory_id"), [c[1:] for c in INVENTORY_IDS], ids=[c[0] for c in INVENTORY_IDS])
def test_inventory_id_format(oid: ObjectId, inventory_id: str) -> None:
    assert oid.inventory_id() == inventory_id


@pytest.mark.parametrize(("oid", "inventory_id"), [c[1:] for c in INVENTORY_IDS], ids=[c[0] for c in INVENTORY_IDS])
def test_parse_inverts_inventory_id(oid: ObjectId, inventory_id: str) -> None:
    assert ObjectId.parse(inventory_id) == oid


@pytest.mark.parametrize(
    "bad",
    ["", "nounderscore", "ns_Kind", "ns__apps_Deployment", "ns_name_apps_"],
    ids=["empty", "no separator", "one separator", "empty name", "empty kind"],
)
def test_parse_rejects_malformed_ids(bad: str) -> None:
    """4.5: an id without four fields (name and Kind non-empty) is not an inventory id."""
    with pytest.raises(ValueError, match="not a Flux inventory id"):
        ObjectId.parse(bad)


def test_rbac_kinds_are_the_four_rbac_types() -> None:
    """4.5: the ':' transcoding applies to Role, ClusterRole, RoleBinding, ClusterRoleBinding."""
    assert frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}) == RBAC_KINDS


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}},
         ObjectId("n", "d", "apps", "Deployment")),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}},
         ObjectId("n", "c", "", "ConfigMap")),
        ({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "a:b"}},
         ObjectId("", "a:b", RBAC, "ClusterRole")),
        ({"kind": "Thing"}, ObjectId("", "", "", "Thing")),
    ],
    ids=["group from apiVersion", "core apiVersion has no group", "no namespace is cluster-scoped", "missing fields"],
)  # fmt: skip
def test_from_manifest_takes_group_from_api_version(manifest: dict[str, object], expected: ObjectId) -> None:
    """4.5: the id carries the group, never the version."""
    assert ObjectId.from_manifest(manifest) == expected


def test_str_and_group_kind_for_messages() -> None:
    assert str(ObjectId("default", "podinfo", "apps", "Deployment")) == "Deployment/default/podinfo"
    assert str(ObjectId("", "ns1", "", "Namespace")) == "Namespace/ns1"
    assert ObjectId("", "x", "apps", "Deployment").group_kind == "Deployment.apps"
    assert ObjectId("", "x", "", "Namespace").group_kind == "Namespace"


def test_source_location_text() -> None:
    assert str(SourceLocation("apps/a.yaml", 3, 1)) == "apps/a.yaml:3 (document 1)"
    assert str(SourceLocation("apps/a.yaml")) == "apps/a.yaml"


_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?"
_DNS_SUBDOMAIN = _DNS_LABEL + r"(\." + _DNS_LABEL + r"){0,2}"
_namespaces = st.one_of(st.just(""), st.from_regex(f"^{_DNS_LABEL}$", fullmatch=True))
_groups = st.one_of(st.just(""), st.from_regex(f"^{_DNS_SUBDOMAIN}$", fullmatch=True))
_kinds = st.from_regex(r"^[A-Z][A-Za-z0-9]{0,15}$", fullmatch=True)
_names = st.from_regex(f"^{_DNS_SUBDOMAIN}$", fullmatch=True)
_rbac_names = st.from_regex(r"^[a-z0-9:]([-a-z0-9.:]{0,20}[a-z0-9:])?$", fullmatch=True)


@st.composite
def _object_ids(draw: st.DrawFn) -> ObjectId:
    if draw(st.booleans()):
        return ObjectId(draw(_namespaces), draw(_rbac_names), RBAC, draw(st.sampled_from(sorted(RBAC_KINDS))))
    return ObjectId(draw(_namespaces), draw(_names), draw(_groups), draw(_kinds))


@given(_object_ids())
def test_parse_round_trips_any_valid_id(oid: ObjectId) -> None:
    """4.5 property: parse(inventory_id(x)) == x for every valid Kubernetes identity,
    including RBAC names with ':' anywhere (start, end, doubled)."""
    assert ObjectId.parse(oid.inventory_id()) == oid
