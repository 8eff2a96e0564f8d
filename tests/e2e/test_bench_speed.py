"""bench/bench_speed.py runs end to end on a tiny generated fleet with history and prints its
table (figures only: nothing about time is asserted)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.cli import REPO

ROWS = ["parse floor", "naive kubectl kustomize", "fluxform --help", "fluxform version"]
PER_ENGINE = ["cold plan", "warm plan", "one-file diff"]


def test_bench_speed_prints_every_figure_for_a_tiny_generated_fleet() -> None:
    from fluxform.kustomize.inprocess import InProcessEngine

    done = subprocess.run(
        [sys.executable, "bench/bench_speed.py", "--generate", "2", "--commits", "1", "--rounds", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "generated fleet, 2 Kustomizations: " in done.stdout and "1 commits" in done.stdout
    engines = ["subprocess"] + (["inprocess"] if InProcessEngine.find() is not None else [])
    expected = ROWS + [f"{row}, {engine}" for engine in engines for row in PER_ENGINE]
    rows = [line.split(" | ")[0].removeprefix("| ") for line in done.stdout.splitlines() if line.startswith("| ")]
    assert rows[2:] == expected  # after the header and its rule
    assert " ! " not in done.stderr  # no fluxform run failed
