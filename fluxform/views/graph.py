"""The owner graph of a plan, and its Mermaid and DOT texts.

Nodes are the plan's owners (Kustomizations, HelmReleases, the synthetic root), each with
the change the plan makes to its objects: add, change, destroy, not planned or unchanged.
Edges are parent -> child (an owner's build applies the Flux object of the child) and
dependsOn (drawn from the owner waited for to the one waiting, dotted), so the graph reads
in apply order, top to bottom. A big fleet would drown the few owners a change touches, so
past `COLLAPSE_ABOVE` owners the unchanged subtrees are folded: the unchanged children of
one parent become one node "N unchanged owners".

    graph = collapse(graph_of_plan(plan_file))
    print(render_mermaid(graph))      # GitHub renders it in a PR comment
    graph = collapse(graph_of_diff(cluster_diff))  # a revision diff's cluster, drawn alike

Both models give their owners' edges through `OwnerEdges` (PlanOwner and OwnerDiff satisfy
it); only how a node's change is told differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from fluxform.objects import ObjectId
from fluxform.planner.model import OwnerStatus
from fluxform.planner.planfile import PlanFile
from fluxform.planner.revdiff.compare import ClusterDiff, OwnerStatusChange

__all__ = [
    "COLLAPSE_ABOVE",
    "Edge",
    "EdgeKind",
    "Node",
    "NodeChange",
    "OwnerEdges",
    "OwnerGraph",
    "collapse",
    "graph_of_diff",
    "graph_of_plan",
    "owner_graph",
    "render_dot",
    "render_mermaid",
]

COLLAPSE_ABOVE = 40  # owners; at most this many are always drawn one by one


class NodeChange(StrEnum):
    ADD = "add"  # every change of the owner creates an object (a new owner, mostly)
    CHANGE = "change"  # some object is updated or replaced, or the changes are mixed
    DESTROY = "destroy"  # every change deletes or forgets an object (a removed owner, mostly)
    NOT_PLANNED = "not planned"  # not rendered here (or remote): what changes for it is unknown
    UNCHANGED = "unchanged"


class EdgeKind(StrEnum):
    PARENT = "parent"  # the source's build applies the target's Flux object
    DEPENDS_ON = "dependsOn"  # the target waits for the source


@dataclass(frozen=True)
class Node:
    key: str  # the owner's inventory id, or "group:<parent key>" for a folded group
    kind: str  # Kustomization | HelmRelease | Root | "group"
    name: str  # namespace/name (the group: "N unchanged owners")
    change: NodeChange
    counts: tuple[int, int, int] = (0, 0, 0)  # objects to add, change, destroy
    note: str = ""  # e.g. "suspended", or a folded group's count of objects

    @property
    def title(self) -> str:
        return self.name if self.kind == "group" else f"{self.kind} {self.name}"

    @property
    def subtitle(self) -> str:
        """What the node's second line says: counts, status or the group's size."""
        if self.note:
            return self.note
        if self.change is NodeChange.NOT_PLANNED:
            return "not planned"
        add, change, destroy = self.counts
        return f"+{add} ~{change} -{destroy}" if any(self.counts) else "no changes"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind


@dataclass(frozen=True)
class OwnerGraph:
    nodes: tuple[Node, ...]  # in the plan's owner order
    edges: tuple[Edge, ...]

    def node(self, key: str) -> Node:
        return next(n for n in self.nodes if n.key == key)


class OwnerEdges(Protocol):
    """What the graph needs of an owner to draw its edges (PlanOwner, OwnerDiff)."""

    @property
    def id(self) -> ObjectId: ...

    @property
    def parent(self) -> ObjectId | None: ...  # the owner whose build applies its Flux object

    @property
    def depends_on(self) -> tuple[ObjectId, ...]: ...


def _node_change(actions_of: Iterable[object]) -> tuple[NodeChange, tuple[int, int, int]]:
    """The change a node shows, from its objects' actions (no-ops included or not)."""
    actions = [a for a in map(str, actions_of) if a != "no-op"]
    add = sum(1 for a in actions if a in ("create", "replace"))
    change = sum(1 for a in actions if a == "update")
    destroy = sum(1 for a in actions if a in ("delete", "replace", "forget"))
    counts = (add, change, destroy)
    if not actions:
        return NodeChange.UNCHANGED, counts
    if all(a == "create" for a in actions):
        return NodeChange.ADD, counts
    if all(a in ("delete", "forget") for a in actions):
        return NodeChange.DESTROY, counts
    return NodeChange.CHANGE, counts


def _name(oid: ObjectId) -> str:
    return f"{oid.namespace}/{oid.name}" if oid.namespace else oid.name


def graph_of_plan(plan: PlanFile) -> OwnerGraph:
    """Every owner of `plan` (and those it no longer has but deletes from), with its edges."""
    by_owner: dict[ObjectId, list[str]] = {}
    for planned in plan.changes:
        by_owner.setdefault(planned.owner, []).append(str(planned.action))
    nodes: list[Node] = []
    known = {o.id for o in plan.owners}
    for owner in plan.owners:
        change, counts = _node_change(by_owner.get(owner.id, []))
        note = ""
        if not owner.status.planned:
            change = NodeChange.NOT_PLANNED
            note = "remote cluster" if owner.status is OwnerStatus.REMOTE else ""
        elif owner.status is OwnerStatus.SUSPENDED:
            note = "suspended"
        nodes.append(Node(owner.id.inventory_id(), owner.kind, _name(owner.id), change, counts, note))
    for gone, actions in by_owner.items():  # owners the fleet no longer has
        if gone not in known:
            _, counts = _node_change(actions)
            nodes.append(Node(gone.inventory_id(), gone.kind, _name(gone), NodeChange.DESTROY, counts, "removed"))
    return owner_graph(plan.owners, nodes)


def graph_of_diff(cluster: ClusterDiff) -> OwnerGraph:
    """The owners of one cluster of a revision diff: what the change does to each (an owner
    not rendered at both revisions is "not planned": what changes for it is unknown)."""
    nodes: list[Node] = []
    for owner in cluster.owners:
        change, counts = _node_change(c.action for c in owner.changes)
        note = ""
        if owner.status is OwnerStatusChange.NOT_COMPARED:
            change, note = NodeChange.NOT_PLANNED, "not compared"
        elif owner.status is OwnerStatusChange.REMOVED:
            change, note = NodeChange.DESTROY, "removed"
        elif owner.status is OwnerStatusChange.ADDED and not owner.changes:
            change = NodeChange.ADD
        elif str(OwnerStatus.SUSPENDED) in owner.note:
            note = "suspended"
        nodes.append(Node(owner.id.inventory_id(), owner.kind, _name(owner.id), change, counts, note))
    return owner_graph(cluster.owners, nodes)


def owner_graph(owners: Iterable[OwnerEdges], nodes: Sequence[Node]) -> OwnerGraph:
    """`nodes` (one per owner, keyed by inventory id; a key listed twice is drawn once) with
    the parent and dependsOn edges `owners` give between them."""
    first: dict[str, Node] = {}
    for node in nodes:
        first.setdefault(node.key, node)
    unique, keys = tuple(first.values()), set(first)
    edges: dict[tuple[str, str], Edge] = {}
    for owner in owners:
        target = owner.id.inventory_id()
        sources = [(owner.parent, EdgeKind.PARENT), *((d, EdgeKind.DEPENDS_ON) for d in owner.depends_on)]
        for source, kind in sources:
            key = source.inventory_id() if source is not None else ""
            if key in keys and key != target and (key, target) not in edges:
                edges[(key, target)] = Edge(key, target, kind)
    return OwnerGraph(unique, tuple(edges.values()))


def collapse(graph: OwnerGraph, above: int = COLLAPSE_ABOVE) -> OwnerGraph:
    """`graph` with each parent's unchanged subtrees folded into one node, when it has more
    than `above` nodes. A subtree folds when every owner in it is unchanged; dependsOn edges
    to or from a folded owner go to its group."""
    if len(graph.nodes) <= above:
        return graph
    children: dict[str, list[str]] = {}
    parent_of: dict[str, str] = {}
    for edge in graph.edges:
        if edge.kind is EdgeKind.PARENT:
            children.setdefault(edge.source, []).append(edge.target)
            parent_of[edge.target] = edge.source
    by_key = {n.key: n for n in graph.nodes}
    quiet = _quiet_subtrees(by_key, children)
    group_of: dict[str, str] = {}  # folded node -> its group's key
    groups: dict[str, list[str]] = {}  # group key -> the subtree roots it holds
    for node in graph.nodes:
        parent = parent_of.get(node.key)
        if node.key in quiet and (parent is None or parent not in quiet):
            group = f"group:{parent or ''}"
            groups.setdefault(group, []).append(node.key)
    for group, roots in groups.items():
        members = [key for root in roots for key in _subtree(root, children)]
        if len(members) > 1:  # one owner alone is drawn as itself
            group_of.update(dict.fromkeys(members, group))
    nodes: list[Node] = []
    placed: set[str] = set()
    for node in graph.nodes:
        folded_into = group_of.get(node.key)
        if folded_into is None:
            nodes.append(node)
        elif (group := folded_into) not in placed:
            placed.add(group)
            size = sum(1 for g in group_of.values() if g == group)
            nodes.append(Node(group, "group", f"{size} unchanged owner{'s' if size != 1 else ''}",
                              NodeChange.UNCHANGED, note="folded: nothing in them changes"))  # fmt: skip
    edges = _folded_edges(graph.edges, group_of, parent_of)
    return OwnerGraph(tuple(nodes), tuple(edges))


def _quiet_subtrees(by_key: Mapping[str, Node], children: Mapping[str, list[str]]) -> set[str]:
    """Nodes whose whole subtree (themselves included) is unchanged."""
    quiet: dict[str, bool] = {}

    def visit(key: str, trail: frozenset[str]) -> bool:
        if key not in quiet:
            kids = [k for k in children.get(key, []) if k not in trail]
            calm = by_key[key].change is NodeChange.UNCHANGED
            quiet[key] = all([calm, *(visit(k, trail | {key}) for k in kids)])
        return quiet[key]

    for key in by_key:
        visit(key, frozenset())
    return {k for k, v in quiet.items() if v}


def _subtree(root: str, children: Mapping[str, list[str]]) -> Iterable[str]:
    seen: set[str] = set()
    todo = [root]
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            yield key
            todo += children.get(key, [])


def _folded_edges(edges: Sequence[Edge], group_of: Mapping[str, str], parent_of: Mapping[str, str]) -> list[Edge]:
    out: list[Edge] = []
    seen: set[tuple[str, str]] = set()
    for group in sorted(set(group_of.values())):
        parent = group.removeprefix("group:")
        if parent and parent not in group_of:
            out.append(Edge(parent, group, EdgeKind.PARENT))
            seen.add((parent, group))
    for edge in edges:
        source, target = group_of.get(edge.source, edge.source), group_of.get(edge.target, edge.target)
        if source == target or (source, target) in seen:
            continue
        seen.add((source, target))
        out.append(Edge(source, target, edge.kind))
    return out


# ----- Mermaid and DOT -------------------------------------------------------------------

#: fill, stroke (GitHub's palette) per change; the legend in every view
STYLES: Mapping[NodeChange, tuple[str, str]] = {
    NodeChange.ADD: ("#dafbe1", "#1a7f37"),
    NodeChange.CHANGE: ("#fff8c5", "#9a6700"),
    NodeChange.DESTROY: ("#ffebe9", "#cf222e"),
    NodeChange.NOT_PLANNED: ("#eaeef2", "#57606a"),
    NodeChange.UNCHANGED: ("#ffffff", "#8c959f"),
}
_CLASS = {c: c.value.replace(" ", "") for c in NodeChange}  # Mermaid class names: no spaces


_MERMAID_ENTITIES = {"#": "#35;", "&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;",
                     "[": "#91;", "]": "#93;", "{": "#123;", "}": "#125;", "|": "#124;"}  # fmt: skip


def _mermaid_text(text: str) -> str:
    """A label safe inside Mermaid's ["..."]: quotes, brackets and markup as entity codes."""
    return "".join(_MERMAID_ENTITIES.get(c, c) for c in " ".join(text.split()))


def render_mermaid(graph: OwnerGraph) -> str:
    """A Mermaid flowchart (top to bottom): nodes n0, n1... in graph order, one class per change."""
    ids = {node.key: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart TB"]
    for node in graph.nodes:
        label = f"{_mermaid_text(node.title)}<br/>{_mermaid_text(node.subtitle)}"
        lines.append(f'  {ids[node.key]}["{label}"]:::{_CLASS[node.change]}')
    for edge in graph.edges:
        arrow = "-->" if edge.kind is EdgeKind.PARENT else "-.->"
        lines.append(f"  {ids[edge.source]} {arrow} {ids[edge.target]}")
    for change, (fill, stroke) in STYLES.items():
        dash = ",stroke-dasharray:4 3" if change is NodeChange.NOT_PLANNED else ""
        lines.append(f"  classDef {_CLASS[change]} fill:{fill},stroke:{stroke},color:#1f2328{dash}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def render_dot(graph: OwnerGraph) -> str:
    """Graphviz DOT of the same graph (`dot -Tsvg`)."""
    lines = [
        "digraph fluxform {",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    ]
    for node in graph.nodes:
        fill, stroke = STYLES[node.change]
        style = ', style="rounded,filled,dashed"' if node.change is NodeChange.NOT_PLANNED else ""
        label = f"{_dot_text(node.title)}\\n{_dot_text(node.subtitle)}"
        lines.append(
            f'  "{_dot_text(node.key)}" [label="{label}", fillcolor="{fill}", color="{stroke}"'
            f', tooltip="{node.change}"{style}];'
        )
    for edge in graph.edges:
        style = " [style=dashed]" if edge.kind is EdgeKind.DEPENDS_ON else ""
        lines.append(f'  "{_dot_text(edge.source)}" -> "{_dot_text(edge.target)}"{style};')
    lines.append("}")
    return "\n".join(lines) + "\n"
