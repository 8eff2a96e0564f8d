"""docs/plan-file.schema.json documents the plan file: it is a valid JSON Schema 2020-12,
every field of every record type has its property (found by walking the types, so a new
field fails here until the schema documents it), enums match the code's, and any plan file
the writer produces validates against it."""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from dataclasses import fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings

from fluxform.objects import ObjectId
from fluxform.planner.planfile import PlanFile, json_key, plan_file_json
from tests.support.planfiles import plan_files

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "docs" / "plan-file.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())


def _record_types(hint: Any) -> Iterator[type]:
    """Every record (dataclass) type reachable from `hint`, ObjectId excepted (a string)."""
    if get_origin(hint) in (Union, types.UnionType, tuple):
        for arg in get_args(hint):
            yield from _record_types(arg)
    elif isinstance(hint, type) and is_dataclass(hint) and hint is not ObjectId:
        yield hint
        for item_hint in get_type_hints(hint).values():
            yield from _record_types(item_hint)


RECORDS = sorted(set(_record_types(PlanFile)), key=lambda t: t.__name__)


def _properties(record: type) -> dict[str, Any]:
    definition = SCHEMA if record is PlanFile else SCHEMA["$defs"].get(record.__name__)
    assert definition is not None, f"docs/plan-file.schema.json has no $defs/{record.__name__}"
    properties: dict[str, Any] = definition["properties"]
    return properties


def test_schema_is_valid_json_schema_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_walk_finds_the_nested_records() -> None:
    names = {r.__name__ for r in RECORDS}
    assert {
        "PlanFile",
        "PlannedChange",
        "PlanOwner",
        "OwnerSpec",
        "HealthCheck",
        "LiveTarget",
        "FieldManagers",
    } <= names


@pytest.mark.parametrize("record", RECORDS, ids=[r.__name__ for r in RECORDS])
def test_every_field_is_documented_and_required(record: type) -> None:
    properties = _properties(record)
    required = set((SCHEMA if record is PlanFile else SCHEMA["$defs"][record.__name__])["required"])
    for item in fields(record):
        key = json_key(item)
        assert key in properties, f"{record.__name__}.{item.name} is written as {key!r}: document it in the schema"
        assert properties[key].get("description") or "$ref" in properties[key], f"describe {record.__name__}.{key}"
        assert key in required, f"{record.__name__}.{key} is always written: list it as required"


@pytest.mark.parametrize("record", RECORDS, ids=[r.__name__ for r in RECORDS])
def test_enums_list_exactly_the_codes_values(record: type) -> None:
    hints = get_type_hints(record)
    for item in fields(record):
        hint = hints[item.name]
        if isinstance(hint, type) and issubclass(hint, Enum):
            assert _properties(record)[json_key(item)]["enum"] == [m.value for m in hint], item.name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan_files())
def test_any_written_plan_file_validates(plan_file: PlanFile) -> None:
    jsonschema.validate(json.loads(plan_file_json(plan_file)), SCHEMA, cls=jsonschema.Draft202012Validator)
