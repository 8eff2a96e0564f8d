"""Progress of long work: what the library reports, never how it is shown.

The planner (builds, Helm renders), the cluster layer (reads, dry-runs) and apply (its
stages and waits) call a `Progress` handed to them in their request (`DiscoverOptions.progress`,
`LiveOptions.progress`); they never print and never import a terminal library. The CLI hands
them a renderer (`fluxform/views/progress.py`: bars on a terminal, plain lines or GitHub
Actions log groups in CI); everyone else gets `NO_PROGRESS`. A stage's total grows as work is
found (a fleet walk discovers owners wave by wave), so `expect` adds to it.

Calls may come from worker threads (builds run in a pool): implementations must be
thread-safe. A renderer must never write to stdout (plans are piped from there).

    progress.begin(Stage.BUILD, "Building Kustomizations")
    progress.expect(Stage.BUILD, 3)                       # three more discovered
    progress.advance(Stage.BUILD, "Kustomization/flux-system/apps", seconds=0.14)
    progress.note(Stage.WAIT, "Deployment/podinfo/web: 1/3 replicas ready")
    progress.end(Stage.BUILD)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = ["NO_PROGRESS", "NullProgress", "Progress", "Stage", "stage", "timed"]


class Stage(StrEnum):
    """The stages fluxform reports. A renderer shows the label `begin` gives, so a new stage
    needs no change there; these values name them in tests and logs."""

    BUILD = "build"  # Kustomizations: kustomize build, postBuild, SOPS (items: owners)
    RENDER = "render"  # HelmReleases rendered with the Helm SDK (items: owners)
    READ = "read"  # cluster reads: one LIST per type (and namespace) (items: "Kind in ns")
    DRY_RUN = "dry-run"  # server-side apply dry-runs of what may change (items: objects)
    APPLY = "apply"  # apply: objects written, owner by owner (items: objects)
    WAIT = "wait"  # apply: health waits (items: owners; `note` says what is awaited)
    PRUNE = "prune"  # apply: objects deleted (items: objects)
    ROLLBACK = "rollback"  # apply failed: objects restored (items: objects)
    TRANSFER = "transfer"  # artifact push/pull/export/import (items: the artifact)
    CHECKOUT = "checkout"  # diff: revisions read from git, files written on demand (items: reads, writes)
    INDEX = "index"  # diff: changed-only indexes looked up and kept (items: indexes)


@runtime_checkable
class Progress(Protocol):
    """What long-running code tells whoever watches it."""

    def begin(self, stage: str, label: str) -> None:
        """`stage` starts; `label` says what it does ("Building Kustomizations"). A stage
        begun again after `end` starts afresh (a diff builds two revisions)."""

    def expect(self, stage: str, count: int) -> None:
        """`count` more items of `stage` are known (its total grows)."""

    def advance(self, stage: str, item: str, *, seconds: float = 0.0, failed: bool = False) -> None:
        """One item of `stage` is done: `item` names it (an owner, an object, "Deployment in
        web"), `seconds` is what it took, `failed` when it did not succeed."""

    def note(self, stage: str, text: str) -> None:
        """What `stage` is doing now, shown until the next note (e.g. what a wait awaits)."""

    def end(self, stage: str) -> None:
        """`stage` is over (also after a failure: renderers close what they opened)."""


class NullProgress:
    """Reports go nowhere: the default for every caller that is not the CLI."""

    def begin(self, stage: str, label: str) -> None:
        pass

    def expect(self, stage: str, count: int) -> None:
        pass

    def advance(self, stage: str, item: str, *, seconds: float = 0.0, failed: bool = False) -> None:
        pass

    def note(self, stage: str, text: str) -> None:
        pass

    def end(self, stage: str) -> None:
        pass


NO_PROGRESS: Progress = NullProgress()


@contextmanager
def stage(progress: Progress, name: str, label: str, total: int = 0) -> Iterator[None]:
    """`begin` (with `total` items expected), then `end` however the block leaves."""
    progress.begin(name, label)
    if total:
        progress.expect(name, total)
    try:
        yield
    finally:
        progress.end(name)


@contextmanager
def timed(progress: Progress, name: str, item: str) -> Iterator[None]:
    """`advance` for `item` when the block leaves, with its duration (failed on an exception)."""
    started = time.perf_counter()
    failed = True
    try:
        yield
        failed = False
    finally:
        progress.advance(name, item, seconds=time.perf_counter() - started, failed=failed)
