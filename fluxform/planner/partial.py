"""Honest partial plans: which owners a run may leave out, and the error when it may not.

Every Kustomization and HelmRelease renders or fails on its own, so a plan can cover part of
a fleet. A partial plan can read as "no changes" while the owners it left out changed, so by
default it is an error (exit 1) naming each owner left out and why. `--partial` accepts
them all; each `--missing-* warn` flag accepts those left out for its cause (and the owners
depending on them). Accepted or not, they are listed beside the plan, and
`--detailed-exitcode` never says "no changes" (0) while something was left out.

    PartialPolicy(accepted=frozenset({Cause.KEYS})).check(plan.owners)   # raises PartialPlan
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fluxform.errors import RenderError
from fluxform.planner.model import Cause, Owner, OwnerStatus

__all__ = ["FLAG_OF_CAUSE", "PartialPlan", "PartialPolicy"]

#: The `--missing-* warn` flag that accepts owners left out for each cause.
FLAG_OF_CAUSE = {
    Cause.SOURCE: "--missing-sources warn",
    Cause.OBJECT: "--missing-objects warn",
    Cause.KEYS: "--missing-keys warn",
    Cause.CHART: "--missing-charts warn",
}


class PartialPlan(RenderError):
    """Owners were left out and nothing accepted that. One line per reason (owners failing
    for one reason, such as the members of a dependsOn cycle, share it), the owners that
    only depend on them counted, and what to do: fix it, or accept a partial plan."""

    def __init__(self, refused: Sequence[Owner]) -> None:
        roots = [o for o in refused if not o.reason.startswith("depends on ")] or list(refused)
        by_reason: dict[str, list[Owner]] = {}
        for owner in roots:
            by_reason.setdefault(owner.reason, []).append(owner)
        flags = sorted({FLAG_OF_CAUSE[c] for o in refused if (c := o.cause) in FLAG_OF_CAUSE})
        accept = "--partial" + (f" (or {', '.join(flags)})" if flags else "")
        dependants = len(refused) - len(roots)
        lines = [_reason_line(owners, reason) for reason, owners in by_reason.items()]
        if len(lines) == 1:
            more = f" ({dependants} more not planned: {'it depends' if dependants == 1 else 'they depend'} on it)"
        else:
            more = (
                f" ({dependants} of them only because {'it depends' if dependants == 1 else 'they depend'} on another)"
            )
        more = more if dependants else ""
        if len(lines) == 1:
            lines[0] += f"{more}; fix it, or plan the rest with {accept}"
        else:
            lines.append(f"{len(refused)} owners not planned{more}; fix these, or plan the rest with {accept}")
        super().__init__(lines[-1])
        self.refused = tuple(refused)
        self.lines = lines

    def one_line(self) -> str:
        """Each line an `Error:` line of its own (the CLI prefixes the first)."""
        return "\nError: ".join(" ".join(line.split()) for line in self.lines)


def _reason_line(owners: Sequence[Owner], reason: str) -> str:
    named = ", ".join(f"{o.id}" + (f" ({o.origin})" if o.origin is not None else "") for o in owners)
    said = "" if all(o.status is OwnerStatus.REMOTE for o in owners) else "not planned: "  # remote: says so
    return f"{named}: {said}{reason}"


@dataclass(frozen=True)
class PartialPolicy:
    accept_all: bool = False  # --partial: every owner left out is accepted (and listed)
    accepted: frozenset[Cause] = frozenset()  # causes a --missing-* warn flag accepts

    def refused(self, owners: Iterable[Owner]) -> list[Owner]:
        """The owners left out that this policy does not accept, in the order given."""
        if self.accept_all:
            return []
        return [o for o in owners if not o.status.planned and (o.cause or Cause.ERROR) not in self.accepted]

    def check(self, owners: Iterable[Owner]) -> None:
        refused = self.refused(owners)
        if refused:
            raise PartialPlan(refused)
