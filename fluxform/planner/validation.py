"""Schema validation of each owner's objects: an owner the API server would refuse is not planned.

Flux applies a Kustomization's objects as one server-side apply, after a dry run of every
object; helm-controller installs a release the same way (Helm's SSA, fieldValidation=Strict).
One object that does not fit its schema (`replicas: two`, a field the schema does not
declare) fails that whole owner, and nothing else: so an owner with a schema violation is
**not planned**, with the violations as its reason (cause ERROR: `--partial` accepts it),
exactly like the other per-owner failures of planner/isolation.py, and whatever waits for
it goes with it. `build` never validates (it shows what Flux would apply).

Built-in kinds are checked against Kubernetes' schemas for `kube_version` (a live plan: the
cluster's), custom resources against the CRDs the fleet renders (chart CRDs included). A
kind with neither gets one warning per kind, except Flux's own kinds (their CRDs are seldom
in the fleet; fluxform reads Kustomizations and HelmReleases itself and fails on bad ones).

    check = owner_validator(ValidationOptions(enabled=True, kube_version="1.33"))
    verdict = check(owners, locate)    # verdict.failed: owner id -> reason
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fluxform.errors import Diagnostic
from fluxform.objects import ObjectId
from fluxform.planner.model import DesiredObject, Owner, OwnerStatus
from fluxform.validate import KubeSchemas, SchemaValidator, Violation, crd_schemas
from fluxform.validate.validator import group_version

__all__ = ["OwnerValidator", "StandingIn", "ValidationOptions", "Verdict", "owner_validator"]

_SHOWN = 5  # violations a reason spells out; the rest become warnings
_FLUX_GROUP_SUFFIX = "fluxcd.io"

#: the file an object of an owner was written in (discovery knows it), for messages
Locate = Callable[[ObjectId, Owner], str]


@dataclass(frozen=True)
class ValidationOptions:
    enabled: bool = False  # the library default; `plan` and `diff` turn it on (--no-validate: off)
    kube_version: str = ""  # "1.33", "v1.33.2"; "": the cluster's when live, else the newest shipped


@dataclass(frozen=True)
class Verdict:
    failed: dict[ObjectId, str] = field(default_factory=dict)  # owner -> why it is not planned
    diagnostics: tuple[Diagnostic, ...] = ()


#: what discovery calls once every owner is rendered
@dataclass(frozen=True)
class StandingIn:
    """Owners a changed-only render did not render (ids and apiVersions only): their objects
    count in the warnings about kinds without a schema as a whole render counts them,
    with the CRDs they render (group, version, kind) as schemas known to exist."""

    owners: Sequence[Owner] = ()
    crds: frozenset[tuple[str, str, str]] = frozenset()


class OwnerValidator(Protocol):
    def __call__(self, owners: Sequence[Owner], locate: Locate, standing: StandingIn = ...) -> Verdict: ...


@functools.lru_cache(maxsize=4)
def _kube_schemas(kube_version: str) -> KubeSchemas:
    return KubeSchemas.load(kube_version)


def owner_validator(options: ValidationOptions) -> OwnerValidator:
    """The check discovery runs (the schemas are read on first use)."""

    def check(owners: Sequence[Owner], locate: Locate, standing: StandingIn = StandingIn()) -> Verdict:
        return validate_owners(owners, _kube_schemas(options.kube_version), locate, standing)

    return check


def validate_owners(
    owners: Sequence[Owner], kube: KubeSchemas, locate: Locate, standing: StandingIn = StandingIn()
) -> Verdict:
    """Check the objects of every built owner; CRDs come from every owner's render (and
    `standing`'s: its owners' objects are counted, not checked: they did not change)."""
    rendered = [obj.body for o in owners for obj in (*o.objects, *o.unplanned_objects)]
    validator = SchemaValidator(kube, crd_schemas(rendered))
    failed: dict[ObjectId, str] = {}
    diagnostics = [Diagnostic(note) for note in kube.notes]
    unknown: dict[tuple[str, str], int] = {}
    for owner in sorted(owners, key=lambda o: o.id):
        if owner.status is not OwnerStatus.BUILT:
            continue
        problems: list[tuple[DesiredObject, list[Violation]]] = []
        for obj in owner.objects:
            found = validator.check(obj.body)
            if found is None:
                if not obj.id.group.endswith(_FLUX_GROUP_SUFFIX):
                    key = (obj.api_version, obj.id.kind)
                    unknown[key] = unknown.get(key, 0) + 1
            elif found:
                problems.append((obj, found))
        if problems:
            reason, rest = _reason(owner, problems, kube, locate)
            failed[owner.id] = reason
            diagnostics += rest
    for owner in standing.owners:
        if owner.status is not OwnerStatus.BUILT:
            continue
        for obj in owner.objects:
            group, version = group_version(obj.api_version)
            known = (group, version, obj.id.kind) in standing.crds or validator.knows(obj.api_version, obj.id.kind)
            if not known and not obj.id.group.endswith(_FLUX_GROUP_SUFFIX):
                key = (obj.api_version, obj.id.kind)
                unknown[key] = unknown.get(key, 0) + 1
    for (api_version, kind), count in sorted(unknown.items()):
        diagnostics.append(
            Diagnostic(
                f"{kind} ({api_version}) has no schema (not a Kubernetes {kube.version_text} kind, and no "
                f"CustomResourceDefinition in the fleet): {count} object(s) not validated"
            )
        )
    return Verdict(failed, tuple(diagnostics))


def _reason(
    owner: Owner, problems: list[tuple[DesiredObject, list[Violation]]], kube: KubeSchemas, locate: Locate
) -> tuple[str, list[Diagnostic]]:
    """The owner's one-line reason (the first violations), and warnings for the rest."""
    shown: list[str] = []
    rest: list[Diagnostic] = []
    for obj, violations in problems:
        where = f"{obj.id} ({locate(obj.id, owner)})"
        if owner.kind == "HelmRelease" and owner.path:
            where = f"{obj.id} (chart {owner.path})"
        room = _SHOWN - len(shown)
        if room > 0:
            shown += [f"{where}: {v.line()}" for v in violations[:room]]
        hidden = violations[max(room, 0) :]
        if hidden:
            rest.append(Diagnostic(f"{where}: " + "; ".join(v.line() for v in hidden), subject=owner.id))
    total = sum(len(v) for _, v in problems)
    more = f" (+{total - len(shown)} more, listed in the warnings)" if total > len(shown) else ""
    reason = f"the API server would refuse it (Kubernetes {kube.version_text} schemas): " + "; ".join(shown) + more
    return reason, rest
