"""Progress renderers: bars on a terminal (rich), lines in a log, GitHub Actions groups."""

from __future__ import annotations

import io
import threading

from fluxform.progress import Progress, Stage
from fluxform.views.progress import LineProgress, TerminalProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run_build(progress: Progress, items: int = 3) -> None:
    progress.begin(Stage.BUILD, "Building Kustomizations")
    progress.expect(Stage.BUILD, items)
    for index in range(items):
        progress.advance(Stage.BUILD, f"Kustomization/flux-system/k{index}", seconds=0.25, failed=index == 2)
    progress.end(Stage.BUILD)


def test_lines_say_what_each_stage_did_and_verbose_adds_each_item_with_its_time() -> None:
    quiet, verbose = io.StringIO(), io.StringIO()
    _run_build(LineProgress(quiet))
    _run_build(LineProgress(verbose, verbose=True))

    assert quiet.getvalue().startswith("fluxform: Building Kustomizations: 3 done, 1 failed in ")
    assert len(quiet.getvalue().splitlines()) == 1
    lines = verbose.getvalue().splitlines()
    assert lines[0] == "fluxform: Building Kustomizations..."
    assert lines[1:4] == [
        "  Kustomization/flux-system/k0 0.25s",
        "  Kustomization/flux-system/k1 0.25s",
        "  Kustomization/flux-system/k2 0.25s (failed)",
    ]


def test_github_actions_groups_each_stage_and_never_nests_them() -> None:
    out = io.StringIO()
    progress = LineProgress(out, github=True)
    progress.begin(Stage.BUILD, "Building Kustomizations")
    progress.expect(Stage.BUILD, 1)
    progress.begin(Stage.RENDER, "Rendering HelmReleases")
    progress.advance(Stage.RENDER, "HelmRelease/apps/web", seconds=0.1)  # opens its group, closing build's
    progress.advance(Stage.BUILD, "Kustomization/flux-system/apps")
    progress.end(Stage.RENDER)
    progress.end(Stage.BUILD)
    progress.close()

    lines = out.getvalue().splitlines()
    assert lines[0] == "::group::fluxform: Building Kustomizations"
    assert lines[1] == "::endgroup::" and lines[2] == "::group::fluxform: Rendering HelmReleases"
    assert lines[3] == "  HelmRelease/apps/web"
    opened = sum(1 for line in lines if line.startswith("::group::"))
    assert opened == sum(1 for line in lines if line == "::endgroup::") == 2
    depth = 0
    for line in lines:
        depth += line.startswith("::group::") - (line == "::endgroup::")
        assert depth in (0, 1)


def test_a_stage_without_work_writes_nothing() -> None:
    out = io.StringIO()
    progress = LineProgress(out, github=True, verbose=True)
    progress.begin(Stage.DRY_RUN, "Dry-running changes")
    progress.end(Stage.DRY_RUN)
    progress.close()
    assert out.getvalue() == ""


def test_counts_stay_right_when_workers_report_at_once() -> None:
    out = io.StringIO()
    progress = LineProgress(out)
    progress.begin(Stage.READ, "Reading the cluster")

    def report() -> None:
        for _ in range(250):
            progress.advance(Stage.READ, "ConfigMap in web")

    workers = [threading.Thread(target=report) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    progress.end(Stage.READ)
    assert out.getvalue().startswith("fluxform: Reading the cluster: 2000 done in ")


def test_bars_show_the_count_and_vanish_at_the_end() -> None:
    out = Terminal()
    progress = TerminalProgress(out, delay=0, colour=False)
    progress._show()  # the timer's job, done now so the test does not wait for it
    _run_build(progress)
    progress.close()
    text = out.getvalue()
    assert "Building Kustomizations" in text and "3/3" in text
    assert "\x1b[2K" in text  # lines erased: the bars are gone when the run ends
    assert "\x1b[3" not in text  # no colour asked for (cursor moves only)


def test_bars_are_not_drawn_for_a_run_shorter_than_the_delay() -> None:
    out = Terminal()
    progress = TerminalProgress(out, delay=30)
    _run_build(progress)
    progress.close()
    assert out.getvalue() == ""


def test_verbose_bars_print_each_item_above_them() -> None:
    out = Terminal()
    progress = TerminalProgress(out, delay=30, verbose=True, colour=False)
    _run_build(progress)
    progress.close()
    assert "  Kustomization/flux-system/k2 0.25s (failed)" in out.getvalue()
    assert "Building Kustomizations: 3 done, 1 failed in" in out.getvalue()
