"""Reading a saved plan file (the JSON `plan --out` writes), checked before anyone trusts it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fluxform.errors import PlanError
from fluxform.objects import SourceLocation
from fluxform.planner.plan import FORMAT_VERSION

__all__ = ["read_plan_file"]

_REQUIRED = ("format_version", "target", "source", "state", "summary", "owners", "changes")


def read_plan_file(path: Path) -> dict[str, Any]:
    where = SourceLocation(str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError("cannot read plan file", detail=str(exc), location=where) from exc
    except json.JSONDecodeError as exc:
        raise PlanError(
            "plan file is not valid JSON", detail=exc.msg, location=SourceLocation(str(path), exc.lineno)
        ) from exc
    if not isinstance(data, dict) or any(key not in data for key in _REQUIRED):
        raise PlanError(
            "not a fluxform plan file", location=where, hint="create one with: fluxform plan PATH --out FILE"
        )
    major = str(data["format_version"]).split(".")[0]
    if major != FORMAT_VERSION.split(".")[0]:
        raise PlanError(
            f"plan file format {data['format_version']} is not supported (this fluxform reads {FORMAT_VERSION})",
            location=where,
        )
    return data
