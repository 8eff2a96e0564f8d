"""One schema violation, said the way the API server's field errors read, never quoting a value.

An object may be a Secret, or hold what SOPS decrypted: a message names the field path, what
the schema wants and the JSON type found, and only ever quotes the schema (enum values,
patterns, limits) and field names, never the object's values.

    Violation(".spec.replicas", "expected integer, got string").line()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from jsonschema_rs import ValidationErrorKind as Kind

__all__ = ["Violation", "field_path", "violation_of"]


@dataclass(frozen=True, order=True)
class Violation:
    path: str  # ".spec.template.spec.containers[0].image", as server-side apply writes paths
    problem: str  # "expected integer, got string"

    def line(self) -> str:
        return f"{self.path or '.'}: {self.problem}"


def field_path(parts: Sequence[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def _wanted_types(types: Sequence[str]) -> str:
    wanted = [t for t in types if t != "null"] or list(types)
    return " or ".join(wanted)


def violation_of(error: jsonschema_rs.ValidationError) -> list[Violation]:
    """The violations one validator error stands for (an unknown-fields error names each field)."""
    kind = error.kind
    path = field_path(list(error.instance_path))
    if isinstance(kind, Kind.AdditionalProperties):
        return [Violation(f"{path}.{name}", "field not declared in schema") for name in kind.unexpected]
    if isinstance(kind, Kind.Required):
        return [Violation(f"{path}.{kind.property}", "required field missing")]
    return [Violation(path, _problem(kind, _json_type(error.instance)))]


def _problem(kind: jsonschema_rs.ValidationErrorKind, got: str) -> str:
    """What is wrong, from the schema's side only (`got`: the JSON type found, never the value)."""
    match kind:
        case Kind.Type():
            return f"expected {_wanted_types([str(t) for t in kind.types])}, got {got}"
        case Kind.Enum():
            return "must be one of " + ", ".join(_schema_value(o) for o in kind.options if o is not None)
        case Kind.Pattern():
            return f"does not match the pattern {kind.pattern}"
        case Kind.MinLength() | Kind.MaxLength():
            return f"must be {_bound(kind)} {kind.limit} characters long"
        case Kind.MinItems() | Kind.MaxItems():
            return f"must have {_bound(kind)} {kind.limit} items"
        case Kind.MinProperties() | Kind.MaxProperties():
            return f"must have {_bound(kind)} {kind.limit} fields"
        case Kind.Minimum() | Kind.Maximum():
            return f"must be {_bound(kind)} {kind.limit}"
        case Kind.ExclusiveMinimum():
            return f"must be greater than {kind.limit}"
        case Kind.ExclusiveMaximum():
            return f"must be less than {kind.limit}"
        case Kind.MultipleOf():
            return f"must be a multiple of {kind.multiple_of}"
        case Kind.UniqueItems():
            return "items must be unique"
        case Kind.AnyOf() | Kind.OneOfNotValid():
            return f"matches none of the allowed forms (got {got})"
        case Kind.OneOfMultipleValid():
            return "matches more than one of the exclusive forms"
        case Kind.Not():
            return "matches a form the schema forbids"
    return f"invalid ({kind.name})"


def _bound(kind: jsonschema_rs.ValidationErrorKind) -> str:
    return "at least" if kind.name.startswith("min") else "at most"


def _schema_value(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
