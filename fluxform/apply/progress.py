"""Live progress of an apply: the `ApplyObserver` the CLI implements (stderr lines while it
runs, one summary line per owner on stdout), and a silent one for library callers.

Calls come from the worker threads applying owners concurrently; an observer must be
thread-safe (the CLI's writes whole lines). Nothing passed here holds a value: ids, stages,
actions and what is awaited.

    class Printer:  # implements ApplyObserver
        def waiting(self, owner, what, elapsed): print(f"{owner}: waiting for {what} ({elapsed:.0f}s)")
"""

from __future__ import annotations

from typing import Protocol

from fluxform.apply.report import ObjectResult, OwnerReport
from fluxform.apply.stages import Stage
from fluxform.objects import ObjectId

__all__ = ["ApplyObserver", "SilentObserver"]


class ApplyObserver(Protocol):
    def owner_started(self, owner: ObjectId) -> None:
        """The owner's first step begins (its dependencies are done)."""

    def stage_started(self, owner: ObjectId, stage: Stage, objects: int) -> None:
        """A stage of `objects` writes begins."""

    def object_done(self, owner: ObjectId, result: ObjectResult) -> None:
        """One object was written, deleted or left alone."""

    def waiting(self, owner: ObjectId, what: str, elapsed: float) -> None:
        """The owner waits (health, a stage's definitions, a deletion); called again as time passes."""

    def owner_finished(self, report: OwnerReport) -> None:
        """The owner is done, whatever the outcome (not applied ones included)."""

    def warning(self, text: str) -> None:
        """Something the user should know that does not stop the apply."""


class SilentObserver:
    """Says nothing (library use, tests)."""

    def owner_started(self, owner: ObjectId) -> None:
        pass

    def stage_started(self, owner: ObjectId, stage: Stage, objects: int) -> None:
        pass

    def object_done(self, owner: ObjectId, result: ObjectResult) -> None:
        pass

    def waiting(self, owner: ObjectId, what: str, elapsed: float) -> None:
        pass

    def owner_finished(self, report: OwnerReport) -> None:
        pass

    def warning(self, text: str) -> None:
        pass
