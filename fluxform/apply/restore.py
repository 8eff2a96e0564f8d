"""`fluxform rollback`: put the cluster back to a revision the state recorded, through the same
plan and executor as `apply` (issue 19, item 3).

1. pick the revision: `--to SERIAL`, or the last complete apply of another source revision;
2. find the git commit it was applied from in the fleet's clone (an unreachable one is an
   error naming it) and write that commit's files into a private directory; a revision
   applied from an OCI artifact is opened again by its digest instead;
3. apply the fleet path there (apply/workflow.py `apply_fleet`): under the state lock, every
   object the revision recorded must render with its recorded digest (apply/recorded.py),
   then the plan is shown, confirmed, and applied; Flux objects it touches are suspended
   (and stay so: the report prints `flux resume`);
4. the source revision rolled away from is marked in the state: planning it again says so,
   applying it again needs --retry-rolled-back.

    report = rollback_fleet(Path("clusters/prod"), None, "bad release", fleet, target, options, observer,
                            show=show, confirm=confirm)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from fluxform.apply.options import ApplyOptions
from fluxform.apply.progress import ApplyObserver
from fluxform.apply.recorded import Restore, pinned_artifact, revision_source, revision_to_restore
from fluxform.apply.report import ApplyReport
from fluxform.apply.workflow import ApplyTarget, apply_fleet
from fluxform.errors import SourceError, StateError
from fluxform.planner.options import FleetOptions
from fluxform.planner.planfile import PlanFile
from fluxform.scratch import scratch_dir
from fluxform.sources.git import GitRepository

__all__ = ["rollback_fleet"]


def rollback_fleet(
    path: Path,
    serial: int | None,
    reason: str,
    fleet: FleetOptions,
    target: ApplyTarget,
    options: ApplyOptions,
    observer: ApplyObserver,
    *,
    show: Callable[[PlanFile], None],
    confirm: Callable[[PlanFile], bool],
) -> tuple[Restore, ApplyReport | None]:
    """Restore serial `serial` (None: the default) of the state; the report is None when the
    plan was not confirmed (nothing written)."""
    state = target.backend.read()  # which revision; apply_fleet reads it again under the lock
    if state is None:
        raise StateError(f"state {target.backend.location} does not exist: there is nothing to roll back to")
    revision = revision_to_restore(state, serial)
    artifact = pinned_artifact(revision_source(revision))
    if artifact is not None:  # applied from an OCI artifact: rendered from it again, by digest
        restore = replace(
            Restore.of(state, replace(revision, source_commit=""), reason),
            shown_as=f"{path} from {artifact} (state serial {revision.serial})",
        )
        fleet = replace(fleet, artifact=artifact)
        report = apply_fleet(path, fleet, target, options, observer, show=show, confirm=confirm, restore=restore)
        return restore, report
    if not revision.source_commit:
        raise StateError(
            f"state serial {revision.serial} records no git commit (it was applied from outside a git clone, "
            "or by a fluxform that did not record commits)",
            hint="check out the commit you want and apply it",
        )
    repo = GitRepository.containing(path)
    try:
        commit = repo.resolve(revision.source_commit)
    except SourceError as exc:
        raise SourceError(
            f"state serial {revision.serial} was applied from commit {revision.source_commit}, "
            f"which is not reachable in {repo.top}",
            detail=exc.summary,
            hint=exc.hint,
        ) from None
    inside = path.resolve().relative_to(repo.top)
    restore = replace(
        Restore.of(state, replace(revision, source_commit=commit), reason),
        shown_as=f"{path} at commit {commit[:12]} (state serial {revision.serial})",
    )
    with scratch_dir("fluxform-rollback-") as scratch:
        tree = scratch / "tree"
        repo.extract(commit, tree)
        fleet = replace(fleet, repo_root=_moved(fleet.repo_root, repo.top, tree) or tree)
        report = apply_fleet(
            tree / inside, fleet, target, options, observer, show=show, confirm=confirm, restore=restore
        )
    return restore, report


def _moved(path: Path | None, top: Path, tree: Path) -> Path | None:
    """A path inside the clone, at the same place inside the extracted commit."""
    if path is None:
        return None
    try:
        return tree / path.resolve().relative_to(top)
    except ValueError:
        return path
