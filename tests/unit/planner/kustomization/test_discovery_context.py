"""What the Helm hook reads of discovery: objects by kind, namespace and name (indexed, first
in order wins, as the scan it replaced), and which objects may hold a secret value."""

from __future__ import annotations

from pathlib import Path

from fluxform.objects import ObjectId
from fluxform.planner.kustomization.discover import DiscoveryContext
from fluxform.planner.model import DesiredObject
from tests.support.desired import cm

APPS = ObjectId("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization")
VARS = ObjectId("flux-system", "vars", "kustomize.toolkit.fluxcd.io", "Kustomization")


def _obj(body: dict[str, object], owner: ObjectId = APPS, sensitive: bool = False) -> DesiredObject:
    paths: tuple[tuple[str | int, ...], ...] = (("data", "k"),) if sensitive else ()
    return DesiredObject(ObjectId.from_manifest(body), "v1", body, owner, None, paths)


def _context(*objects: DesiredObject, secret_owners: frozenset[ObjectId] = frozenset()) -> DiscoveryContext:
    return DiscoveryContext({o.id: o for o in objects}, {}, Path("."), secret_owners=secret_owners)


def test_objects_are_found_by_kind_namespace_and_name() -> None:
    a, b = _obj(cm("a", "1")), _obj(cm("b", "2"))
    ctx = _context(a, b)
    assert ctx.find("ConfigMap", "apps", "b") is b and ctx.lookup("ConfigMap", "apps", "a") == a.body
    assert ctx.find("ConfigMap", "apps", "c") is None and ctx.find("Secret", "apps", "a") is None


def test_the_first_of_two_groups_wins_and_later_objects_are_found() -> None:
    core = _obj(cm("a", "core"))
    other = {**cm("a", "other"), "apiVersion": "example.com/v1"}
    ctx = _context(core, _obj(other))
    assert ctx.lookup("ConfigMap", "apps", "a") == core.body
    late = _obj(cm("late"))
    ctx.objects[late.id] = late  # objects added after the first lookup
    assert ctx.find("ConfigMap", "apps", "late") is late


def test_an_object_may_hold_a_secret_by_its_leaves_or_by_its_kustomization() -> None:
    plain, leaf, owned = _obj(cm("plain")), _obj(cm("leaf"), sensitive=True), _obj(cm("owned"), VARS)
    ctx = _context(plain, leaf, owned, secret_owners=frozenset({VARS}))
    assert [ctx.secret_derived(o) for o in (plain, leaf, owned)] == [False, True, True]
