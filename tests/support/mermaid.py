"""A strict check of the Mermaid flowchart syntax fluxform emits (views/graph.py), line by line:
the header, node declarations with quoted labels (no raw quote, bracket or markup but
`<br/>`), edges between declared nodes, and a classDef for every class used. The Mermaid
CLI (npm) needs a headless browser, so CI checks this grammar instead.

nodes, edges = check_mermaid(text)
"""

from __future__ import annotations

import re

__all__ = ["check_mermaid", "mermaid_blocks"]

_NODE = re.compile(r'^  (n\d+)\["((?:[^"<>\[\]{}|\n]|<br/>)*)"\]:::([a-z]+)$')
_EDGE = re.compile(r"^  (n\d+) (-->|-\.->) (n\d+)$")
_CLASS = re.compile(
    r"^  classDef ([a-z]+) fill:#[0-9a-f]{6},stroke:#[0-9a-f]{6},color:#[0-9a-f]{6}(,stroke-dasharray:\d+ \d+)?$"
)


def check_mermaid(text: str) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str, str]]]:
    """(node id -> (label, class), edges as (source, arrow, target)); AssertionError naming
    the first line that does not follow the grammar."""
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "flowchart TB", lines[0]
    nodes: dict[str, tuple[str, str]] = {}
    edges: list[tuple[str, str, str]] = []
    classes: set[str] = set()
    for number, line in enumerate(lines[1:], start=2):
        if node := _NODE.match(line):
            assert not edges and not classes, f"line {number}: nodes come first: {line!r}"
            assert node.group(1) not in nodes, f"line {number}: {node.group(1)} declared twice"
            label = node.group(2)
            assert "&" not in label, f"line {number}: a raw '&' in a label: {line!r}"
            nodes[node.group(1)] = (label, node.group(3))
        elif edge := _EDGE.match(line):
            assert not classes, f"line {number}: edges come before classDefs: {line!r}"
            source, arrow, target = edge.groups()
            assert source in nodes and target in nodes, f"line {number}: undeclared node in {line!r}"
            assert source != target, f"line {number}: a self-loop: {line!r}"
            edges.append((source, arrow, target))
        elif cls := _CLASS.match(line):
            classes.add(cls.group(1))
        else:
            raise AssertionError(f"line {number} is not valid Mermaid as fluxform writes it: {line!r}")
    used = {c for _, c in nodes.values()}
    assert used <= classes, f"classes used but not defined: {used - classes}"
    return nodes, edges


def mermaid_blocks(markdown: str) -> list[str]:
    """The bodies of the ```mermaid fenced blocks of a Markdown text."""
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)
