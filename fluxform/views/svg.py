"""The owner graph drawn as inline SVG, for the HTML report: no script, no network, no font.

Mermaid's renderer is a 3 MB script (MIT, so it could be inlined); a report carrying it in
every file, and blank where scripts are off, is worse than drawing the few boxes here: a
layered layout (each owner one layer below everything it waits for), owners ordered in a
layer by where their predecessors sit, wide layers wrapped into rows.

    svg = render_svg(collapse(graph_of_plan(plan)))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from fluxform.views.graph import STYLES, Edge, EdgeKind, Node, NodeChange, OwnerGraph

__all__ = ["render_svg"]

_CHAR = 7.0  # px per character of the 12px monospace label
_HEIGHT = 40
_GAP_X = 24
_GAP_Y = 56
_ROW = 8  # nodes per row before a layer wraps
_MARGIN = 16


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    width: float

    @property
    def bottom(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + _HEIGHT

    @property
    def top(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y


def _layers(graph: OwnerGraph) -> list[list[str]]:
    """Longest-path layers over all edges; members of a cycle go below what is known."""
    incoming: dict[str, set[str]] = {n.key: set() for n in graph.nodes}
    for edge in graph.edges:
        if edge.source != edge.target:
            incoming[edge.target].add(edge.source)
    layer: dict[str, int] = {}
    pending = [n.key for n in graph.nodes]
    while pending:
        ready = [k for k in pending if incoming[k] <= layer.keys()]
        if not ready:  # a cycle: place its first member and go on
            ready = [pending[0]]
        for key in ready:
            layer[key] = 1 + max((layer[s] for s in incoming[key] if s in layer), default=-1)
        pending = [k for k in pending if k not in layer]
    layers: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for node in graph.nodes:
        layers[layer[node.key]].append(node.key)
    return layers


def _ordered(layers: list[list[str]], edges: Sequence[Edge]) -> list[list[str]]:
    """Each layer sorted by the mean position of its nodes' predecessors (fewer crossings)."""
    preds: dict[str, list[str]] = {}
    for edge in edges:
        preds.setdefault(edge.target, []).append(edge.source)
    position: dict[str, float] = {}
    out = []
    for keys in layers:

        def centre(key: str, keys: Sequence[str] = keys) -> float:
            placed = [position[p] for p in preds.get(key, []) if p in position]
            return sum(placed) / len(placed) if placed else float(keys.index(key))

        row = sorted(keys, key=lambda k: (centre(k), keys.index(k)))
        position.update({k: float(i) for i, k in enumerate(row)})
        out.append(row)
    return out


def _boxes(rows: list[list[str]], nodes: Mapping[str, Node]) -> tuple[dict[str, _Box], float, float]:
    widths = {k: max(len(n.title), len(n.subtitle)) * _CHAR + 20 for k, n in nodes.items()}
    lines = [keys[i : i + _ROW] for keys in rows for i in range(0, len(keys), _ROW)]
    total = max((sum(widths[k] for k in line) + _GAP_X * (len(line) - 1) for line in lines), default=0.0)
    boxes: dict[str, _Box] = {}
    y = float(_MARGIN)
    for line in lines:
        used = sum(widths[k] for k in line) + _GAP_X * (len(line) - 1)
        x = _MARGIN + (total - used) / 2
        for key in line:
            boxes[key] = _Box(x, y, widths[key])
            x += widths[key] + _GAP_X
        y += _HEIGHT + _GAP_Y
    return boxes, total + 2 * _MARGIN, y - _GAP_Y + _MARGIN


def _edge(edge: Edge, boxes: Mapping[str, _Box]) -> str:
    (x1, y1), (x2, y2) = boxes[edge.source].bottom, boxes[edge.target].top
    if y2 <= y1:  # drawn upwards (a cycle, or a wrapped row): leave from the side
        (x1, y1) = (boxes[edge.source].x + boxes[edge.source].width, y1 - _HEIGHT / 2)
    bend = max(abs(y2 - y1) / 2, 20)
    dash = ' stroke-dasharray="5 4"' if edge.kind is EdgeKind.DEPENDS_ON else ""
    return (
        f'<path class="edge {edge.kind}" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} {x2:.1f},{y2 - bend:.1f} '
        f'{x2:.1f},{y2 - 2:.1f}" fill="none" stroke="#57606a" stroke-width="1.2"{dash} marker-end="url(#arrow)"/>'
    )


def _node(node: Node, box: _Box) -> str:
    fill, stroke = STYLES[node.change]
    dash = ' stroke-dasharray="4 3"' if node.change is NodeChange.NOT_PLANNED else ""
    cx = box.x + box.width / 2
    return (
        f'<g class="node" data-change="{escape(node.change.value)}" data-key="{escape(node.key)}">'
        f"<title>{escape(node.title)}: {escape(node.change.value)}</title>"
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{_HEIGHT}" rx="6" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"{dash}/>'
        f'<text x="{cx:.1f}" y="{box.y + 16:.1f}" text-anchor="middle">{escape(node.title)}</text>'
        f'<text x="{cx:.1f}" y="{box.y + 32:.1f}" text-anchor="middle" class="sub">{escape(node.subtitle)}</text>'
        "</g>"
    )


def render_svg(graph: OwnerGraph) -> str:
    """One <svg> element: boxes coloured by change, solid parent edges, dotted dependsOn."""
    nodes = {n.key: n for n in graph.nodes}
    rows = _ordered(_layers(graph), graph.edges)
    boxes, width, height = _boxes(rows, nodes)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="owner graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>',
        "<style>text{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;fill:#1f2328}"
        "text.sub{fill:#57606a;font-size:11px}</style>",
        *(_edge(e, boxes) for e in graph.edges),
        *(_node(nodes[k], boxes[k]) for k in nodes),
        "</svg>",
    ]
    return "\n".join(parts)
