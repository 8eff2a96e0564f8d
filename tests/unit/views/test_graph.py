"""The owner graph of a plan: a node per owner coloured by its change, parent and dependsOn
edges, unchanged subtrees folded past 40 owners; its Mermaid text follows the grammar
(tests/support/mermaid.py) whatever the names, and its DOT text names every node."""

from __future__ import annotations

from hypothesis import given, settings

from fluxform.objects import ObjectId
from fluxform.planner.model import OwnerSpec, OwnerStatus
from fluxform.planner.plan import Action
from fluxform.planner.planfile import (
    FORMAT_VERSION,
    NotPlanned,
    PlanFile,
    PlanMode,
    PlannedChange,
    PlanOwner,
    PlanSource,
    StateRef,
)
from fluxform.planner.settings import PlanSettings
from fluxform.views.graph import (
    EdgeKind,
    NodeChange,
    collapse,
    graph_of_diff,
    graph_of_plan,
    render_dot,
    render_mermaid,
)
from tests.support.mermaid import check_mermaid
from tests.support.planfiles import plan_files

KS = "kustomize.toolkit.fluxcd.io"


def ks(name: str) -> ObjectId:
    return ObjectId("flux-system", name, KS, "Kustomization")


def owner(oid: ObjectId, *, parent: ObjectId | None = None, depends: tuple[ObjectId, ...] = (),
          status: OwnerStatus = OwnerStatus.BUILT) -> PlanOwner:  # fmt: skip
    return PlanOwner(oid, oid.kind, status, "src", "./x", depends, parent, True, 1, "", OwnerSpec())


def change(owner_id: ObjectId, name: str, action: Action) -> PlannedChange:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "apps"}}
    before = None if action is Action.CREATE else body
    after = None if action in (Action.DELETE, Action.FORGET) else {**body, "data": {"v": "2"}}
    return PlannedChange(ObjectId("apps", name, "", "ConfigMap"), "v1", owner_id, action, "", before, after,
                         after, None, False)  # fmt: skip


def plan_of(
    owners: list[PlanOwner], changes: list[PlannedChange], not_planned: tuple[NotPlanned, ...] = ()
) -> PlanFile:
    return PlanFile(FORMAT_VERSION, "0", "clusters/dev", PlanMode.OFFLINE, PlanSource("r"), StateRef("", 0),
                    PlanSettings(), None, tuple(owners), tuple(changes), (), not_planned, ())  # fmt: skip


def test_nodes_take_the_change_of_their_objects_and_edges_follow_parent_and_depends_on() -> None:
    root, infra, apps, web, gone = ks("flux-system"), ks("infra"), ks("apps"), ks("web"), ks("gone")
    stuck = ks("stuck")
    plan = plan_of(
        [
            owner(root),
            owner(infra, parent=root),
            owner(apps, parent=root, depends=(infra,)),
            owner(web, parent=apps),
            owner(stuck, parent=root, status=OwnerStatus.NOT_PLANNED),
        ],
        [
            change(root, "a", Action.NOOP),
            change(infra, "b", Action.CREATE),
            change(apps, "c", Action.CREATE),
            change(apps, "d", Action.UPDATE),
            change(web, "e", Action.DELETE),
            change(gone, "f", Action.DELETE),
        ],
    )
    graph = graph_of_plan(plan)
    changes = {n.name: (n.change, n.counts) for n in graph.nodes}
    assert changes == {
        "flux-system/flux-system": (NodeChange.UNCHANGED, (0, 0, 0)),
        "flux-system/infra": (NodeChange.ADD, (1, 0, 0)),
        "flux-system/apps": (NodeChange.CHANGE, (1, 1, 0)),
        "flux-system/web": (NodeChange.DESTROY, (0, 0, 1)),
        "flux-system/stuck": (NodeChange.NOT_PLANNED, (0, 0, 0)),
        "flux-system/gone": (NodeChange.DESTROY, (0, 0, 1)),  # the fleet no longer has it
    }
    edges = {(graph.node(e.source).name, graph.node(e.target).name, e.kind) for e in graph.edges}
    assert edges == {
        ("flux-system/flux-system", "flux-system/infra", EdgeKind.PARENT),
        ("flux-system/flux-system", "flux-system/apps", EdgeKind.PARENT),
        ("flux-system/infra", "flux-system/apps", EdgeKind.DEPENDS_ON),
        ("flux-system/apps", "flux-system/web", EdgeKind.PARENT),
        ("flux-system/flux-system", "flux-system/stuck", EdgeKind.PARENT),
    }


def big_fleet(apps: int, changed: set[int]) -> PlanFile:
    """A root, an `infra` owner with a HelmRelease child, and `apps` app owners each with a
    HelmRelease child; the apps in `changed` update one object in their release."""
    root, infra = ks("flux-system"), ks("infra")
    owners = [owner(root), owner(infra, parent=root), owner(ObjectId("infra", "ctrl", "helm.toolkit.fluxcd.io",
                                                                    "HelmRelease"), parent=infra)]  # fmt: skip
    changes = []
    for i in range(apps):
        app = ks(f"app-{i:03}")
        release = ObjectId(f"app-{i:03}", "web", "helm.toolkit.fluxcd.io", "HelmRelease")
        owners += [owner(app, parent=root, depends=(infra,)), owner(release, parent=app)]
        changes.append(change(release, f"web-{i}", Action.UPDATE if i in changed else Action.NOOP))
    return plan_of(owners, changes)


def test_two_hundred_owners_fold_to_what_changed() -> None:
    graph = graph_of_plan(big_fleet(100, {7, 42}))
    assert len(graph.nodes) == 203
    folded = collapse(graph)
    names = sorted(n.name for n in folded.nodes)
    # the root's quiet children (infra with its release, 98 apps with theirs) are one group
    assert names == [
        "198 unchanged owners",
        "app-007/web",
        "app-042/web",
        "flux-system/app-007",
        "flux-system/app-042",
        "flux-system/flux-system",
    ]
    [group] = [n for n in folded.nodes if n.kind == "group"]
    # dependsOn edges of the changed apps on the folded infra go to its group
    infra_group = group.key
    assert {(e.source, e.kind) for e in folded.edges if e.target == ks("app-007").inventory_id()} == {
        (ks("flux-system").inventory_id(), EdgeKind.PARENT),
        (infra_group, EdgeKind.DEPENDS_ON),
    }
    check_mermaid(render_mermaid(folded))


def test_small_graphs_and_everything_changed_are_not_folded() -> None:
    assert collapse(graph_of_plan(big_fleet(10, set()))) == graph_of_plan(big_fleet(10, set()))
    everything = graph_of_plan(big_fleet(30, set(range(30))))
    assert len(collapse(everything).nodes) == len(everything.nodes) - 1  # infra + its release: one group


def test_names_that_would_break_mermaid_are_written_as_entities() -> None:
    odd = ObjectId("ns", 'we"ird]<b>&[x]', KS, "Kustomization")
    mermaid = render_mermaid(graph_of_plan(plan_of([owner(odd)], [change(odd, "a", Action.CREATE)])))
    nodes, _ = check_mermaid(mermaid)
    assert nodes["n0"][0] == "Kustomization ns/we#quot;ird#93;#lt;b#gt;#amp;#91;x#93;<br/>+1 ~0 -0"


@settings(max_examples=60, deadline=None)
@given(plan_files())
def test_any_plan_gives_valid_mermaid_and_dot(plan: PlanFile) -> None:
    graph = collapse(graph_of_plan(plan), above=2)
    nodes, edges = check_mermaid(render_mermaid(graph))
    assert len(nodes) == len(graph.nodes) and len(edges) == len(graph.edges)
    dot = render_dot(graph)
    assert dot.startswith("digraph fluxform {\n") and dot.endswith("}\n")
    assert dot.count(" -> ") == len(graph.edges)


def test_a_revision_diff_draws_the_same_graph() -> None:
    """graph_of_diff: OwnerDiff gives the edges through the same protocol as PlanOwner; a
    node's change is what the diff does to its objects."""
    from fluxform.planner.plan import Change
    from fluxform.planner.revdiff.compare import ClusterDiff, ClusterStatus, OwnerDiff, OwnerStatusChange

    root, infra, apps, gone, stuck = ks("flux-system"), ks("infra"), ks("apps"), ks("gone"), ks("stuck")
    cm = ObjectId("apps", "cm", "", "ConfigMap")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "apps"}}
    update = Change(cm, "v1", apps, Action.UPDATE, body, {**body, "data": {"k": "v"}})
    delete = Change(cm, "v1", gone, Action.DELETE, body, None)
    status = OwnerStatusChange
    owners = (
        OwnerDiff(root, "Kustomization", status.UNCHANGED, "./c", unchanged=3),
        OwnerDiff(infra, "Kustomization", status.UNCHANGED, "./i", parent=root, unchanged=1),
        OwnerDiff(apps, "Kustomization", status.CHANGED, "./a", "", (update,), 2, parent=root, depends_on=(infra,)),
        OwnerDiff(gone, "Kustomization", status.REMOVED, "./g", "", (delete,), parent=root),
        OwnerDiff(stuck, "Kustomization", status.NOT_COMPARED, "./s", "not compared: ...", parent=root),
    )
    graph = graph_of_diff(ClusterDiff("clusters/dev", ClusterStatus.CHANGED, owners))
    changes = {n.name: n.change for n in graph.nodes}
    assert changes == {
        "flux-system/flux-system": NodeChange.UNCHANGED,
        "flux-system/infra": NodeChange.UNCHANGED,
        "flux-system/apps": NodeChange.CHANGE,
        "flux-system/gone": NodeChange.DESTROY,
        "flux-system/stuck": NodeChange.NOT_PLANNED,
    }
    edges = {(e.source.split("_")[1], e.target.split("_")[1], e.kind) for e in graph.edges}
    assert edges == {
        ("flux-system", "infra", EdgeKind.PARENT),
        ("flux-system", "apps", EdgeKind.PARENT),
        ("flux-system", "gone", EdgeKind.PARENT),
        ("flux-system", "stuck", EdgeKind.PARENT),
        ("infra", "apps", EdgeKind.DEPENDS_ON),
    }
    nodes, arrows = check_mermaid(render_mermaid(graph))
    assert len(nodes) == 5 and sum(1 for _, arrow, _ in arrows if arrow == "-.->") == 1
