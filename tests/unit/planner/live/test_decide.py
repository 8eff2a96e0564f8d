"""The decisions of a live plan, one object at a time: create, adopt, skip, update, drift,
replace, client-side fallback, offline fallback, and what happens to objects no longer
rendered (flux-semantics 4.4, 4.6). Facts come from small builders; no cluster is read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest

from fluxform.cluster.clientside import predict
from fluxform.cluster.dryrun import DryRun
from fluxform.cluster.errors import ApiFailure, Cause
from fluxform.cluster.mapping import KindMapping, Unmapped
from fluxform.cluster.normalize import comparable
from fluxform.objects import ObjectId
from fluxform.planner.live.decide import (
    CLIENT_SIDE,
    LiveChange,
    NamespaceState,
    ObjectFacts,
    decide,
    decide_removal,
    live_key,
    needs_dry_run,
)
from fluxform.planner.model import DesiredObject, OwnerStatus
from fluxform.planner.plan import Action
from fluxform.state.model import OwnerState, StateObject
from tests.support.desired import owner
from tests.support.ids import ks
from tests.support.states import owner as recorded_owner
from tests.support.states import state_object

APPS, OTHER = ks("apps"), ks("other")
MANAGER = "kustomize-controller"
CONFIGMAPS = KindMapping("", "v1", "ConfigMap", "configmaps", namespaced=True)
NAMESPACES = KindMapping("", "v1", "Namespace", "namespaces", namespaced=False)
WIDGETS_PLANNED = KindMapping("example.com", "v1", "Widget", "widgets", namespaced=True, served=False)
OWNER_LABELS = {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
RECONCILE_DISABLED = {"kustomize.toolkit.fluxcd.io/reconcile": "disabled"}
PRUNE_DISABLED = {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
FORCE_ENABLED = {"kustomize.toolkit.fluxcd.io/force": "enabled"}
IMMUTABLE_NOTE = "; Flux would only recreate it with kustomize.toolkit.fluxcd.io/force: enabled or spec.force"


# --- builders -----------------------------------------------------------------------------


def configmap(
    value: str = "1", *, more: Mapping[str, str] | None = None, annotations: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The desired ConfigMap apps/settings, k=`value` and `more` data (already masked: a
    ConfigMap has nothing to mask)."""
    meta: dict[str, Any] = {"name": "settings", "namespace": "apps", "labels": dict(OWNER_LABELS)}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": value, **(more or {})}}


def _applied_by(manager: str, keys: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {"f:data": {f"f:{key}": {} for key in keys}}
    return {"manager": manager, "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields}


def live(
    value: str = "1",
    *,
    more: Mapping[str, str] | None = None,
    more_applied_by: str = MANAGER,
    labels: Mapping[str, str] = OWNER_LABELS,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """apps/settings as the API server returns it: server metadata, k=`value` applied by
    MANAGER, and `more` data applied by `more_applied_by`."""
    extra = dict(more or {})
    managers = [_applied_by(MANAGER, ["k", *extra] if more_applied_by == MANAGER else ["k"])]
    if extra and more_applied_by != MANAGER:
        managers.append(_applied_by(more_applied_by, list(extra)))
    meta: dict[str, Any] = {
        "name": "settings",
        "namespace": "apps",
        "labels": dict(labels),
        "resourceVersion": "42",
        "uid": "0b9c6f2e-1111-2222-3333-444455556666",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "managedFields": managers,
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": value, **extra}}


def recorded(manifest: Mapping[str, Any], *, by: ObjectId = APPS) -> tuple[OwnerState, StateObject]:
    """What the state says the last apply of Kustomization `by` left for this object."""
    previous = state_object(dict(manifest))
    return replace(recorded_owner(by.name, [previous]), id=by), previous


def facts(
    desired: dict[str, Any] | None = None,
    *,
    live: dict[str, Any] | None = None,
    recorded: tuple[OwnerState, StateObject] | None = None,
    mapping: KindMapping | Unmapped = CONFIGMAPS,
    read_failure: str = "",
    namespace: NamespaceState = NamespaceState.EXISTS,
    owner_forces: bool = False,
) -> ObjectFacts:
    body = configmap() if desired is None else desired
    obj = DesiredObject(ObjectId.from_manifest(body), "v1", body, APPS)
    return ObjectFacts(obj, body, recorded, mapping, live, read_failure, MANAGER, namespace, owner_forces)


def dry_applied(result: Mapping[str, Any]) -> DryRun:
    """A dry-run the server accepted, answering with the object as apply would leave it."""
    return DryRun(dict(result))


def dry_refused(status: int, message: str, *, field: str = "", details_kind: str = "") -> DryRun:
    causes = (Cause(field, message),) if field else ()
    return DryRun(None, ApiFailure(status, _REASONS[status], message, causes, details_kind))


_REASONS = {403: "Forbidden", 404: "NotFound", 422: "Invalid"}
FORBIDDEN = dry_refused(403, 'configmaps "settings" is forbidden: User "ci" cannot patch resource "configmaps"')
NO_NAMESPACE = dry_refused(404, 'namespaces "apps" not found', details_kind="namespaces")
INVALID = dry_refused(422, "data.k: Invalid value: too long", field="data.k")
IMMUTABLE = dry_refused(422, "field is immutable", field="data")
GONE = {"gone": "applied before, no longer desired"}
NO_NAMESPACE_NOTE = "namespace apps does not exist and this plan does not create it: applying into it will fail"


# --- decide ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    action: Action
    reason: str = ""
    adopted: bool = False
    drift: tuple[Action, str] | None = None  # the drift entry's action and reason
    notes: tuple[str, ...] = ()  # diagnostic summaries


CASES: list[tuple[str, ObjectFacts, DryRun | None, Expect]] = [
    # creates
    ("create into an existing namespace", facts(), dry_applied(configmap()), Expect(Action.CREATE)),
    ("create into a namespace this plan creates", facts(namespace=NamespaceState.PLANNED), None,
     Expect(Action.CREATE)),
    ("create into a missing namespace", facts(namespace=NamespaceState.MISSING), None,
     Expect(Action.CREATE, notes=(NO_NAMESPACE_NOTE,))),
    ("create where the dry-run finds no namespace", facts(namespace=NamespaceState.UNKNOWN), NO_NAMESPACE,
     Expect(Action.CREATE, notes=(NO_NAMESPACE_NOTE,))),
    ("create the server refuses", facts(), INVALID,
     Expect(Action.CREATE, notes=("the API server refuses it, apply will fail: data.k: Invalid value: too long",))),
    ("create with a forbidden dry-run", facts(), FORBIDDEN, Expect(Action.CREATE)),
    ("create of a kind whose CRD this plan creates", facts(mapping=WIDGETS_PLANNED), None,
     Expect(Action.CREATE, "its CustomResourceDefinition is created by this plan")),
    ("re-create what was deleted outside of fluxform", facts(recorded=recorded(configmap())),
     dry_applied(configmap()),
     Expect(Action.CREATE, "re-creates it: deleted outside of fluxform",
            drift=(Action.DELETE, "deleted outside of fluxform"))),
    # existing objects
    ("unchanged", facts(live=live(), recorded=recorded(configmap())), dry_applied(live()), Expect(Action.NOOP)),
    ("unchanged without a dry-run", facts(live=live(), recorded=recorded(configmap())), None, Expect(Action.NOOP)),
    ("adopt an unchanged object", facts(live=live()), dry_applied(live()),
     Expect(Action.NOOP, "adopts it: exists in the cluster but not in the state", adopted=True)),
    ("adopt and update", facts(configmap("2"), live=live()), dry_applied(live("2")),
     Expect(Action.UPDATE, "adopts it: exists in the cluster but not in the state", adopted=True)),
    ("update what the repo changed", facts(configmap("2"), live=live(), recorded=recorded(configmap())),
     dry_applied(live("2")), Expect(Action.UPDATE)),
    ("drift: live changed since the same manifest was applied",
     facts(live=live("edited"), recorded=recorded(configmap())), dry_applied(live()),
     Expect(Action.UPDATE, "reverts changes made outside of fluxform",
            drift=(Action.UPDATE, "changed outside of fluxform"))),
    ("no drift when another owner applied it", facts(live=live("edited"), recorded=recorded(configmap(), by=OTHER)),
     dry_applied(live()), Expect(Action.UPDATE)),
    # Flux's skip policies
    ("reconcile disabled on the desired object",
     facts(configmap(annotations=RECONCILE_DISABLED), live=live("edited"), recorded=recorded(configmap())), None,
     Expect(Action.NOOP, "skipped: kustomize.toolkit.fluxcd.io/reconcile: disabled")),
    ("reconcile disabled on the live object",
     facts(configmap("2"), live=live(annotations=RECONCILE_DISABLED), recorded=recorded(configmap())), None,
     Expect(Action.NOOP, "skipped: kustomize.toolkit.fluxcd.io/reconcile: disabled")),
    ("ssa Ignore", facts(configmap(annotations={"kustomize.toolkit.fluxcd.io/ssa": "Ignore"}), live=None), None,
     Expect(Action.NOOP, "skipped: kustomize.toolkit.fluxcd.io/ssa: Ignore")),
    ("ssa IfNotPresent, present",
     facts(configmap("2", annotations={"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"}), live=live(),
           recorded=recorded(configmap())), None,
     Expect(Action.NOOP, "skipped: kustomize.toolkit.fluxcd.io/ssa: IfNotPresent and it exists")),
    ("ssa IfNotPresent, absent", facts(configmap(annotations={"kustomize.toolkit.fluxcd.io/ssa": "IfNotPresent"})),
     dry_applied(configmap()), Expect(Action.CREATE)),
    ("a skipped object that exists unrecorded is still adopted",
     facts(configmap(annotations=RECONCILE_DISABLED), live=live()), None,
     Expect(Action.NOOP, "adopts it: exists in the cluster but not in the state; "
            "skipped: kustomize.toolkit.fluxcd.io/reconcile: disabled", adopted=True)),
    # immutable fields
    ("immutable without force", facts(configmap("2"), live=live(), recorded=recorded(configmap())), IMMUTABLE,
     Expect(Action.REPLACE, "data cannot change (immutable)" + IMMUTABLE_NOTE)),
    ("immutable with the force annotation",
     facts(configmap("2", annotations=FORCE_ENABLED), live=live(), recorded=recorded(configmap())), IMMUTABLE,
     Expect(Action.REPLACE, "data cannot change (immutable)")),
    ("immutable with the force annotation on the live object",
     facts(configmap("2"), live=live(annotations=FORCE_ENABLED), recorded=recorded(configmap())), IMMUTABLE,
     Expect(Action.REPLACE, "data cannot change (immutable)")),
    ("immutable with spec.force on the Kustomization",
     facts(configmap("2"), live=live(), recorded=recorded(configmap()), owner_forces=True), IMMUTABLE,
     Expect(Action.REPLACE, "data cannot change (immutable)")),
    # dry-run not possible
    ("forbidden dry-run compares client-side", facts(configmap("2"), live=live(), recorded=recorded(configmap())),
     FORBIDDEN, Expect(Action.UPDATE, CLIENT_SIDE)),
    ("forbidden dry-run, nothing to change", facts(live=live(), recorded=recorded(configmap())), FORBIDDEN,
     Expect(Action.NOOP)),
    ("forbidden dry-run, a field applied before is dropped",
     facts(live=live(more=GONE), recorded=recorded(configmap(more=GONE))), FORBIDDEN,
     Expect(Action.UPDATE, CLIENT_SIDE)),
    ("refused dry-run warns and compares client-side",
     facts(configmap("2"), live=live(), recorded=recorded(configmap())), INVALID,
     Expect(Action.UPDATE, CLIENT_SIDE, notes=("dry-run refused, apply will fail: data.k: Invalid value: too long",))),
    # the live object cannot be read: compare with the state, as offline
    ("unreadable type, nothing recorded", facts(read_failure="HTTP 403 listing configmaps"), None,
     Expect(Action.CREATE, "live object not readable (HTTP 403 listing configmaps)")),
    ("unreadable type, recorded the same", facts(read_failure="HTTP 403", recorded=recorded(configmap())), None,
     Expect(Action.NOOP, "live object not readable (HTTP 403)")),
    ("unreadable type, recorded otherwise",
     facts(configmap("2"), read_failure="HTTP 403", recorded=recorded(configmap())), None,
     Expect(Action.UPDATE, "live object not readable (HTTP 403)")),
    ("kind the cluster does not serve",
     facts(mapping=Unmapped("example.com/v1", "Widget", "the cluster does not serve example.com/v1 Widget")), None,
     Expect(Action.CREATE, "the cluster does not serve example.com/v1 Widget")),
]  # fmt: skip


@pytest.mark.parametrize(("given", "dry", "expect"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(given: ObjectFacts, dry: DryRun | None, expect: Expect) -> None:
    decision = decide(given, dry)
    change = decision.change
    assert (change.action, change.reason, change.adopted) == (expect.action, expect.reason, expect.adopted)
    assert (change.id, change.owner, change.desired) == (given.obj.id, APPS, given.masked)
    assert change.live_resource_version == ("42" if given.live is not None else "")
    drift = decision.drift
    assert (None if drift is None else (drift.action, drift.reason)) == expect.drift
    assert tuple(d.summary for d in decision.diagnostics) == expect.notes


def test_update_shows_live_and_dry_run_without_server_fields() -> None:
    result = decide(facts(configmap("2"), live=live(), recorded=recorded(configmap())), dry_applied(live("2")))
    assert result.change.before == comparable(live()) and result.change.after == comparable(live("2"))
    assert "resourceVersion" not in result.change.before["metadata"]


def test_drift_runs_from_what_apply_would_make_to_what_is_live() -> None:
    result = decide(facts(live=live("edited"), recorded=recorded(configmap())), dry_applied(live()))
    assert result.drift is not None
    assert (result.drift.before, result.drift.after) == (comparable(live()), comparable(live("edited")))


def test_replace_and_client_side_changes_predict_the_applied_object() -> None:
    given = facts(configmap("2"), live=live(), recorded=recorded(configmap()))
    expected = predict(live(), configmap("2"), MANAGER)
    assert expected["data"] == {"k": "2"}
    for dry in (IMMUTABLE, FORBIDDEN):
        assert decide(given, dry).change.after == expected


def test_re_created_object_drift_is_the_recorded_manifest_deleted() -> None:
    owner_state, previous = recorded(configmap())
    result = decide(facts(recorded=(owner_state, previous)), dry_applied(configmap()))
    assert result.drift is not None
    assert (result.drift.owner, result.drift.before, result.drift.after) == (APPS, previous.manifest, None)


def test_offline_fallback_shows_the_recorded_manifest_as_before() -> None:
    owner_state, previous = recorded(configmap())
    result = decide(facts(configmap("2"), read_failure="HTTP 403", recorded=(owner_state, previous)), None)
    assert (result.change.before, result.change.after) == (previous.manifest, configmap("2"))


# --- needs_dry_run ----------------------------------------------------------------------------


DRY_RUN_CASES: list[tuple[str, ObjectFacts, bool, bool]] = [
    ("absent, namespace exists", facts(), False, True),
    ("absent, namespace unknown", facts(namespace=NamespaceState.UNKNOWN), False, True),
    ("absent, namespace planned", facts(namespace=NamespaceState.PLANNED), False, False),
    ("absent, namespace missing", facts(namespace=NamespaceState.MISSING), False, False),
    ("live already has every desired field", facts(live=live()), False, False),
    ("live has every desired field, but always", facts(live=live()), True, True),
    ("a desired field differs", facts(configmap("2"), live=live()), False, True),
    ("a field applied before is dropped", facts(live=live(more=GONE)), False, True),
    ("another manager's field is not ours to drop", facts(live=live(more=GONE, more_applied_by="helm")), False, False),
    ("skipped by policy", facts(configmap("2", annotations=RECONCILE_DISABLED), live=live()), True, False),
    ("kind not served yet", facts(mapping=WIDGETS_PLANNED), True, False),
    ("kind unknown", facts(mapping=Unmapped("example.com/v1", "Widget", "not served")), True, False),
    ("type unreadable", facts(read_failure="HTTP 403"), True, False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("given", "always", "expected"), [c[1:] for c in DRY_RUN_CASES], ids=[c[0] for c in DRY_RUN_CASES]
)
def test_needs_dry_run(given: ObjectFacts, always: bool, expected: bool) -> None:
    assert needs_dry_run(given, always=always) is expected


# --- decide_removal ---------------------------------------------------------------------------


def removal(
    *,
    live_obj: dict[str, Any] | None,
    recorded_manifest: dict[str, Any] | None = None,
    prune: bool = True,
    owner_rendered: bool = True,
    owner_status: OwnerStatus = OwnerStatus.BUILT,
    recorded_prune: bool = True,
    read_failure: str = "",
) -> tuple[str, str, str | None] | None:
    """decide_removal for apps/settings, recorded under Kustomization apps and no longer
    rendered by it: (action, reason, live resourceVersion), or None when left alone."""
    owner_state, previous = recorded(recorded_manifest or configmap())
    owner_state = replace(owner_state, prune=recorded_prune)
    desired_owner = owner(APPS, status=owner_status, prune=prune) if owner_rendered else None
    change = decide_removal(owner_state, previous, desired_owner, live_obj, read_failure)
    if change is None:
        return None
    assert isinstance(change, LiveChange)
    assert (change.id, change.owner, change.before, change.after) == (previous.id, APPS, previous.manifest, None)
    return str(change.action), change.reason, change.live_resource_version


REMOVAL_CASES: list[tuple[str, dict[str, Any], tuple[str, str, str | None] | None]] = [
    ("pruned", {"live_obj": live()}, ("delete", "no longer rendered by Kustomization/flux-system/apps", "42")),
    ("prune: false", {"live_obj": live(), "prune": False},
     ("forget", "Kustomization/flux-system/apps has prune: false", "42")),
    ("prune disabled on the live object", {"live_obj": live(annotations=PRUNE_DISABLED)},
     ("forget", "kustomize.toolkit.fluxcd.io/prune: disabled", "42")),
    ("prune disabled in the recorded manifest",
     {"live_obj": live(), "recorded_manifest": configmap(annotations=PRUNE_DISABLED)},
     ("forget", "kustomize.toolkit.fluxcd.io/prune: disabled", "42")),
    ("reconcile disabled on the live object", {"live_obj": live(annotations=RECONCILE_DISABLED)},
     ("forget", "kustomize.toolkit.fluxcd.io/reconcile: disabled", "42")),
    ("owner labels name another Kustomization",
     {"live_obj": live(labels={**OWNER_LABELS, "kustomize.toolkit.fluxcd.io/name": "other"})},
     ("forget", "its labels now name Kustomization/flux-system/other as owner", "42")),
    ("owner labels removed", {"live_obj": live(labels={})},
     ("forget", "it no longer carries the Kustomization owner labels", "42")),
    ("already gone", {"live_obj": None}, ("forget", "already gone from the cluster", "")),
    ("owner removed, it pruned", {"live_obj": live(), "owner_rendered": False},
     ("delete", "no longer rendered by Kustomization/flux-system/apps; "
      "Kustomization/flux-system/apps itself was removed", "42")),
    ("owner removed, it did not prune", {"live_obj": live(), "owner_rendered": False, "recorded_prune": False},
     ("forget", "Kustomization/flux-system/apps has prune: false", "42")),
    ("the owner's prune now wins over the recorded one", {"live_obj": live(), "recorded_prune": False},
     ("delete", "no longer rendered by Kustomization/flux-system/apps", "42")),
    ("unreadable, pruned", {"live_obj": None, "read_failure": "HTTP 403"},
     ("delete", "live object not readable (HTTP 403)", "")),
    ("unreadable, prune disabled in the record",
     {"live_obj": None, "read_failure": "HTTP 403", "recorded_manifest": configmap(annotations=PRUNE_DISABLED)},
     ("forget", "live object not readable (HTTP 403)", "")),
    ("owner suspended", {"live_obj": live(), "owner_status": OwnerStatus.SUSPENDED}, None),
    ("owner not planned", {"live_obj": live(), "owner_status": OwnerStatus.NOT_PLANNED}, None),
    ("owner on another cluster", {"live_obj": live(), "owner_status": OwnerStatus.REMOTE}, None),
]  # fmt: skip


@pytest.mark.parametrize(("given", "expected"), [c[1:] for c in REMOVAL_CASES], ids=[c[0] for c in REMOVAL_CASES])
def test_decide_removal(given: dict[str, Any], expected: tuple[str, str, str | None] | None) -> None:
    assert removal(**given) == expected


def test_removal_never_shows_the_live_object() -> None:
    """The state knows which of its values were secret; a live read of a dropped object does not."""
    owner_state, previous = recorded(configmap())
    change = decide_removal(owner_state, previous, owner(APPS), live("live-only value"), "")
    assert change is not None and change.before == previous.manifest
    assert "live-only value" not in repr(change)


# --- live_key ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj_id", "mapping", "expected"),
    [
        (ObjectId("apps", "settings", "", "ConfigMap"), CONFIGMAPS, ObjectId("apps", "settings", "", "ConfigMap")),
        (ObjectId("apps", "apps", "", "Namespace"), NAMESPACES, ObjectId("", "apps", "", "Namespace")),
        (ObjectId("", "apps", "", "Namespace"), NAMESPACES, ObjectId("", "apps", "", "Namespace")),
        (ObjectId("apps", "w", "example.com", "Widget"), Unmapped("example.com/v1", "Widget", "not served"),
         ObjectId("apps", "w", "example.com", "Widget")),
    ],
    ids=["namespaced", "cluster-scoped drops the namespace", "cluster-scoped without one", "unmapped keeps it"],
)  # fmt: skip
def test_live_key(obj_id: ObjectId, mapping: KindMapping | Unmapped, expected: ObjectId) -> None:
    assert live_key(obj_id, mapping) == expected
