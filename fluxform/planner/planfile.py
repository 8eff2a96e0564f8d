"""The plan file: what `plan --out` writes, `show` prints, every view renders and apply executes.

Frozen, typed, and free of plaintext by construction: a `PlannedChange` refuses a Secret whose
values are not masked fingerprints, and `plan_file_from` reads only a Plan's changes (masked
when they were planned) and its owners' metadata, never a desired object's body, which holds
decrypted values. One function each builds (`plan_file_from`), serialises
(`plan_file_json`: the JSON view prints exactly this), writes (`write_plan_file`: atomic,
0600) and reads (`read_plan_file`: every field checked, one-line PlanErrors naming the file
and the field).

    plan_file = plan_file_from(plan)
    write_plan_file(Path("plan.json"), plan_file)
    assert read_plan_file(Path("plan.json")) == plan_file

JSON keys are the field names, except where a field's metadata names another key (an
ObjectId field `owner` is written as its inventory id under `owner_id`, beside a derived
display `owner`). Keys marked derived (`summary`, a change's `diff` and `fields`, display
names) are written for readers and recomputed, never read. `format_version` is
"MAJOR.MINOR": a minor version adds fields (readers ignore keys they do not know; a field
missing from an older file takes its default), a major version changes them and a reader
refuses another major. docs/plan-file.md explains the fields; docs/plan-file.schema.json is
their JSON Schema.
"""

from __future__ import annotations

import functools
import json
import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from fluxform.decrypt.mask import unmasked_secret_values
from fluxform.errors import PlanError
from fluxform.jsontext import dumps_indented
from fluxform.objects import ObjectId, SourceLocation
from fluxform.planner.fields import changed_fields
from fluxform.planner.model import Owner, OwnerSpec, OwnerStatus
from fluxform.planner.plan import Action, Change, Plan, count_actions, unified_diff
from fluxform.planner.reversible import hooks_run
from fluxform.planner.settings import LiveTarget, PlanSettings
from fluxform.private_file import write_private
from fluxform.state.model import canonical_digest

__all__ = [
    "FORMAT_VERSION",
    "JSON_KEY",
    "NotPlanned",
    "PlanDiagnostic",
    "PlanFile",
    "PlanMode",
    "PlanOwner",
    "PlanSource",
    "PlannedChange",
    "StateRef",
    "json_key",
    "plan_file_from",
    "plan_file_json",
    "planned_change",
    "read_plan_file",
    "write_plan_file",
]

FORMAT_VERSION = "2.2"
JSON_KEY = "json_key"  # field metadata: the JSON key, when it is not the field's name
_DIFFED = (Action.UPDATE, Action.REPLACE)
_REMOVALS = (Action.DELETE, Action.FORGET)


def _written_as(key: str) -> dict[str, str]:
    return {JSON_KEY: key}


class PlanMode(StrEnum):
    OFFLINE = "offline"  # planned against the state only
    LIVE = "live"  # read the cluster (see PlanFile.live)


@dataclass(frozen=True)
class PlanSource:
    revision: str  # the source revision or artifact digest the desired state was built from


@dataclass(frozen=True)
class StateRef:
    """The state the plan was made against: apply refuses the plan once it moved."""

    lineage: str  # "" = no state (everything is new)
    serial: int


@dataclass(frozen=True)
class PlanOwner:
    """A Flux Kustomization or HelmRelease (or the synthetic root) and how apply treats it.
    Its objects are the changes naming it; no manifest is kept here."""

    id: ObjectId = field(metadata=_written_as("inventory_id"))
    kind: str  # Kustomization | HelmRelease | Root
    status: OwnerStatus
    source: str  # e.g. GitRepository/flux-system/flux-system, or the chart's source
    path: str  # spec.path, or chart@version
    depends_on: tuple[ObjectId, ...]
    parent: ObjectId | None  # the owner whose build produced this Flux object
    prune: bool
    objects: int  # how many objects it renders
    file: str  # where the Flux object is defined ("" when not known)
    spec: OwnerSpec  # wait, timeout, force, health checks, release...


def _require_masked(manifest: Mapping[str, Any] | None, subject: ObjectId, what: str) -> None:
    if manifest is None:
        return
    unmasked = unmasked_secret_values(manifest)
    if unmasked:
        raise PlanError(
            f"refusing to hold an unmasked Secret value in a plan ({what}: {', '.join(unmasked)})",
            subject=subject,
            hint="plans hold masked manifests only (decrypt/mask.py)",
        )


@dataclass(frozen=True)
class PlannedChange:
    """One object's change. Its manifests are masked: constructing one with a plaintext
    Secret value fails, so no plan (built or read) can hold one."""

    id: ObjectId
    api_version: str
    owner: ObjectId = field(metadata=_written_as("owner_id"))
    action: Action
    reason: str  # for people; apply never reads it
    before: Mapping[str, Any] | None = field(repr=False)  # the state's or the live object (masked)
    after: Mapping[str, Any] | None = field(repr=False)  # what it becomes (masked); None when removed
    desired: Mapping[str, Any] | None = field(repr=False)  # the masked manifest apply sends; None when removed
    live_resource_version: str | None  # seen in the cluster ("" = absent); None = not read (offline)
    adopted: bool  # in the cluster but not in the state
    #: canonical digest of `desired` ("" without): apply re-renders the recorded revision and
    #: proves its masked render has this digest before writing anything
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        _require_masked(self.before, self.id, "before")
        _require_masked(self.after, self.id, "after")
        _require_masked(self.desired, self.id, "desired")
        object.__setattr__(self, "digest", canonical_digest(self.desired) if self.desired is not None else "")

    @functools.cached_property
    def diff(self) -> str:
        """Unified YAML diff of before and after, for updates and replacements."""
        return unified_diff(self.before, self.after) if self.action in _DIFFED else ""

    @functools.cached_property
    def fields(self) -> tuple[str, ...]:
        """Changed field paths, for updates and replacements."""
        return tuple(changed_fields(self.before, self.after)) if self.action in _DIFFED else ()


@dataclass(frozen=True)
class NotPlanned:
    """An owner the plan could not render; Flux leaves its objects alone, and so does apply."""

    owner: ObjectId = field(metadata=_written_as("owner_id"))
    reason: str
    file: str  # where the Flux object is defined ("" when not known)


@dataclass(frozen=True)
class PlanDiagnostic:
    summary: str  # the whole warning, on one line
    subject: ObjectId | None = field(metadata=_written_as("subject_id"))


@dataclass(frozen=True)
class PlanFile:
    format_version: str
    fluxform_version: str
    target: str  # the path that was planned, as given
    mode: PlanMode
    source: PlanSource
    state: StateRef
    settings: PlanSettings
    live: LiveTarget | None  # the cluster a live plan read; None offline
    owners: tuple[PlanOwner, ...]  # in dependency order
    changes: tuple[PlannedChange, ...]  # apply order: owners in order, objects in build order; removals last
    drift: tuple[PlannedChange, ...]  # live differs from the last apply: reported, not applied
    not_planned: tuple[NotPlanned, ...]
    diagnostics: tuple[PlanDiagnostic, ...]

    def __post_init__(self) -> None:
        if self.mode is PlanMode.LIVE and self.live is None:
            raise PlanError("mode: a live plan needs `live` (the cluster it read)")
        if self.mode is PlanMode.OFFLINE and self.live is not None:
            raise PlanError("mode: an offline plan has no `live` (it read no cluster)")

    def counts(self) -> dict[str, int]:
        """The summary: objects to add, change, destroy, forget, unchanged; owners not planned."""
        return {**count_actions(c.action for c in self.changes), "not_planned": len(self.not_planned)}

    def has_changes(self) -> bool:
        return any(c.action is not Action.NOOP for c in self.changes)


# ----- building ---------------------------------------------------------------------------


def planned_change(change: Change) -> PlannedChange:
    """A plan's (or a revision diff's) change as the file keeps it: its manifests only."""
    return PlannedChange(
        id=change.id,
        api_version=change.api_version,
        owner=change.owner,
        action=change.action,
        reason=change.reason,
        before=change.before,
        after=change.after,
        desired=change.desired,
        live_resource_version=change.live_resource_version,
        adopted=change.adopted,
    )


def _plan_owner(owner: Owner) -> PlanOwner:
    """Metadata only: `owner.objects` hold decrypted bodies and are only counted."""
    return PlanOwner(
        id=owner.id,
        kind=owner.kind,
        status=owner.status,
        source=owner.source,
        path=owner.path,
        depends_on=owner.depends_on,
        parent=owner.parent,
        prune=owner.prune,
        objects=len(owner.objects),
        file=owner.origin.path if owner.origin is not None else "",
        spec=owner.spec,
    )


def _not_planned(owner: Owner) -> NotPlanned:
    """An owner the plan leaves out (remote, not planned), why, and its file."""
    return NotPlanned(owner.id, owner.reason or f"status {owner.status}", owner.origin.path if owner.origin else "")


def plan_file_from(plan: Plan) -> PlanFile:
    """The plan file of a plan: changes as planned (masked), owners by their metadata."""
    return PlanFile(
        format_version=FORMAT_VERSION,
        fluxform_version=plan.fluxform_version,
        target=plan.target,
        mode=PlanMode(plan.mode),
        source=PlanSource(plan.source_revision),
        state=StateRef(plan.state_lineage, plan.state_serial),
        settings=plan.settings,
        live=plan.live,
        owners=tuple(_plan_owner(o) for o in plan.owners),
        changes=tuple(planned_change(c) for c in plan.changes),
        drift=tuple(planned_change(c) for c in plan.drift),
        not_planned=tuple(
            _not_planned(o) for o in plan.owners if o.status not in (OwnerStatus.BUILT, OwnerStatus.SUSPENDED)
        ),
        diagnostics=(
            *(PlanDiagnostic(d.one_line(), d.subject) for d in plan.diagnostics),
            *_hook_warnings(plan),
        ),
    )


def _hook_warnings(plan: Plan) -> list[PlanDiagnostic]:
    """HelmReleases this plan installs or upgrades whose chart hooks will run: said before
    apply, as no rollback undoes them."""
    changed = {c.owner for c in plan.changes if c.action is not Action.NOOP}
    out = []
    for owner in plan.owners:
        note = hooks_run(owner.rendered) if owner.id in changed else ""
        if note:
            out.append(PlanDiagnostic(f"not reversible: {owner.id}: {note}", owner.id))
    return out


# ----- writing ----------------------------------------------------------------------------


def _display(oid: ObjectId | None) -> str:
    return str(oid) if oid is not None else ""


#: keys written beside a record's fields for readers (display names, summaries, diffs);
#: recomputed from the fields, never read back
_DERIVED: dict[type, Callable[[Any], dict[str, Any]]] = {
    PlanFile: lambda p: {"summary": p.counts()},
    PlanOwner: lambda o: {"id": str(o.id), "namespace": o.id.namespace, "name": o.id.name},
    PlannedChange: lambda c: {
        "kind": c.id.kind,
        "namespace": c.id.namespace,
        "name": c.id.name,
        "owner": str(c.owner),
        "diff": c.diff,
        "fields": list(c.fields),
    },
    NotPlanned: lambda n: {"owner": str(n.owner)},
    PlanDiagnostic: lambda d: {"subject": _display(d.subject)},
}


def json_key(item: Field[Any]) -> str:
    """The JSON key of a record's field."""
    return str(item.metadata.get(JSON_KEY, item.name))


def _encode(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return value.inventory_id()
    if is_dataclass(value) and not isinstance(value, type):
        out = {json_key(f): _encode(getattr(value, f.name)) for f in fields(value)}
        derive = _DERIVED.get(type(value))
        return {**out, **derive(value)} if derive is not None else out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if isinstance(value, Mapping):
        return dict(value)  # a manifest: JSON data already
    return value


def plan_file_json(plan_file: PlanFile) -> str:
    """The file's serialisation: sorted keys, two-space indent, one trailing newline."""
    return dumps_indented(_encode(plan_file)) + "\n"


def write_plan_file(path: Path, plan_file: PlanFile) -> None:
    """Atomically, readable by the owner only (it names every object and fingerprint)."""
    write_private(path, plan_file_json(plan_file))


# ----- reading ----------------------------------------------------------------------------


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


class _Reader:
    """Turns parsed JSON into the typed records, naming the field of any bad value."""

    def __init__(self, path: Path) -> None:
        self.where = SourceLocation(str(path))

    def error(self, at: str, problem: str) -> PlanError:
        return PlanError(f"invalid plan file: {at or 'the top level'}: {problem}", location=self.where)

    def value(self, hint: Any, data: Any, at: str) -> Any:
        origin = get_origin(hint)
        if hint is Any:
            return data
        if origin in (Union, types.UnionType):
            if data is None and type(None) in get_args(hint):
                return None
            (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
            return self.value(inner, data, at)
        if origin is tuple:
            if not isinstance(data, list):
                raise self.error(at, "expected a list")
            return tuple(self.value(get_args(hint)[0], item, f"{at}[{i}]") for i, item in enumerate(data))
        if origin is Mapping:
            if not isinstance(data, dict):
                raise self.error(at, "expected an object (a manifest)")
            return data
        if hint is ObjectId:
            return self.object_id(data, at)
        if isinstance(hint, type) and is_dataclass(hint):
            return self.record(hint, data, at)
        if isinstance(hint, type) and issubclass(hint, Enum):
            allowed = [str(member.value) for member in hint]
            if data not in allowed:
                raise self.error(at, f"{data!r} is not one of {', '.join(allowed)}")
            return hint(data)
        return self.scalar(hint, data, at)

    def scalar(self, hint: type, data: Any, at: str) -> Any:
        kinds = {bool: "true or false", int: "an integer", str: "a string"}
        ok = isinstance(data, hint) and (hint is bool or not isinstance(data, bool))
        if hint not in kinds or not ok:
            raise self.error(at, f"expected {kinds.get(hint, hint.__name__)}, got {json.dumps(data)[:40]}")
        return data

    def object_id(self, data: Any, at: str) -> ObjectId:
        try:
            return ObjectId.parse(self.scalar(str, data, at))
        except ValueError as exc:
            raise self.error(at, str(exc)) from None

    def record(self, cls: type, data: Any, at: str) -> Any:
        if not isinstance(data, dict):
            raise self.error(at, "expected an object")
        hints = _hints(cls)
        given: dict[str, Any] = {}
        computed: dict[str, tuple[Any, str]] = {}
        for item in fields(cls):
            key = json_key(item)
            here = f"{at}.{key}" if at else key
            if key not in data:
                if item.default is MISSING and item.default_factory is MISSING:
                    raise self.error(here, "missing")
                continue
            value = self.value(hints[item.name], data[key], here)
            if item.init:
                given[item.name] = value
            else:
                computed[item.name] = (value, here)
        try:
            record = cls(**given)
        except PlanError as exc:
            raise self.error(at, exc.one_line()) from None
        for name, (value, here) in computed.items():
            if getattr(record, name) != value:
                raise self.error(here, "does not match the record (the file was changed after it was written)")
        return record


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def read_plan_file(path: Path) -> PlanFile:
    """A plan file, every field checked; PlanError (naming the file and field) otherwise."""
    where = SourceLocation(str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError("cannot read plan file", detail=str(exc), location=where) from exc
    except json.JSONDecodeError as exc:
        raise PlanError(
            "plan file is not valid JSON", detail=exc.msg, location=SourceLocation(str(path), exc.lineno)
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("format_version"), str) or "changes" not in data:
        raise PlanError(
            "not a fluxform plan file", location=where, hint="create one with: fluxform plan PATH --out FILE"
        )
    if _major(data["format_version"]) != _major(FORMAT_VERSION):
        raise PlanError(
            f"plan file format {data['format_version']} is not supported (this fluxform reads {FORMAT_VERSION})",
            location=where,
            hint="plan again with this fluxform: fluxform plan PATH --out FILE",
        )
    plan_file: PlanFile = _Reader(path).record(PlanFile, data, "")
    return plan_file
