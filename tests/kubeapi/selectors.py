"""Label and field selectors as list/watch/deletecollection accept them.

reqs = parse_label_selector("app in (web,api),tier!=db,!legacy")
matches_labels(reqs, {"app": "web"})   # True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

__all__ = [
    "FieldRequirement",
    "LabelRequirement",
    "matches_fields",
    "matches_labels",
    "parse_field_selector",
    "parse_label_selector",
]


@dataclass(frozen=True, slots=True)
class LabelRequirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        return not present or value not in self.values  # "!=" and "notin"


_SET_TERM = re.compile(r"([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)")
_EQ_TERM = re.compile(r"([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)")
_KEY = re.compile(r"(!?)\s*([^\s!=(),<>]+)")


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "," and depth == 0:
            terms.append("".join(current).strip())
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current.append(char)
    terms.append("".join(current).strip())
    return [t for t in terms if t]


def _label_term(term: str) -> LabelRequirement:
    if match := _SET_TERM.fullmatch(term):
        values = tuple(v.strip() for v in match.group(3).split(",") if v.strip())
        return LabelRequirement(match.group(1), match.group(2), values)
    if match := _EQ_TERM.fullmatch(term):
        op = "!=" if match.group(2) == "!=" else "="
        return LabelRequirement(match.group(1), op, (match.group(3),))
    if match := _KEY.fullmatch(term):
        return LabelRequirement(match.group(2), "!" if match.group(1) else "exists")
    raise bad_request(f"unable to parse requirement: {term!r} is not a valid label selector term")


def parse_label_selector(text: str) -> list[LabelRequirement]:
    return [_label_term(term) for term in _split_terms(text)]


def matches_labels(requirements: list[LabelRequirement], labels: Mapping[str, str] | None) -> bool:
    return all(req.matches(labels or {}) for req in requirements)


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    negate: bool
    value: str


# Fields a real API server indexes per kind beyond metadata.name / metadata.namespace.
_EXTRA_FIELDS = {
    "Secret": ("type",),
    "Pod": ("spec.nodeName", "status.phase", "spec.serviceAccountName"),
    "Event": ("involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "reason", "type"),
    "Namespace": ("status.phase",),
    "Job": ("status.successful",),
}


def parse_field_selector(text: str, kind: str) -> list[FieldRequirement]:
    allowed = ("metadata.name", "metadata.namespace", *_EXTRA_FIELDS.get(kind, ()))
    requirements = []
    for term in _split_terms(text):
        match = re.fullmatch(r"([^\s!=]+)\s*(==|=|!=)\s*(.*)", term)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = match.groups()
        if field not in allowed:
            raise bad_request(f"field label not supported: {field}")
        requirements.append(FieldRequirement(field, op == "!=", value.strip()))
    return requirements


def _field_value(obj: Mapping[str, Any], dotted: str) -> str:
    current: Any = obj
    for part in dotted.split("."):
        current = current.get(part) if isinstance(current, Mapping) else None
    return "" if current is None else str(current)


def matches_fields(requirements: list[FieldRequirement], obj: Mapping[str, Any]) -> bool:
    return all((_field_value(obj, r.field) == r.value) != r.negate for r in requirements)
