"""A bench/fleetgen.py fleet in a git repository, with a history of one-file changes.

The first commit holds the fleet; each later commit changes one file of one app, as a
typical pull request does: an image tag in an overlay, replicas in an overlay's values,
or a line of a base's config file. Same arguments, same bytes and commits (fixed dates).

    python bench/fleethistory.py OUT --kustomizations 200 --commits 20
    layout = fleet_with_history(Path("out"), kustomizations=50, commits=10)
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fleetgen import FleetLayout, FleetSpec, app_name, cluster_name, generate_fleet

__all__ = ["fleet_with_history", "main"]

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _git(root: Path, *args: str, when: int = 0) -> None:
    date = f"@{1_700_000_000 + when * 60} +0000"
    env = {**os.environ, **_GIT_ENV, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def _change(root: Path, rng: random.Random, kustomizations: int, step: int) -> str:
    """Edit one file of one app; returns its path (relative to `root`)."""
    app = app_name(rng.randrange(kustomizations))
    overlay = f"apps/{app}/overlays/{cluster_name(0)}"
    kind = step % 3
    if kind == 0:
        path = f"{overlay}/kustomization.yaml"
        text = (root / path).read_text()
        text = re.sub(r"newTag: \S+", f"newTag: 2.{step}.{rng.randrange(10)}", text, count=1)
    elif kind == 1:
        path = f"{overlay}/values.yaml"
        text = re.sub(r"replicaCount: \d+", f"replicaCount: {rng.randint(1, 9)}", (root / path).read_text())
    else:
        path = f"apps/{app}/base/config/app.properties"
        text = (root / path).read_text() + f"change.{step}=on\n"
    (root / path).write_text(text)
    return path


def fleet_with_history(root: Path, *, kustomizations: int, commits: int, seed: int = 1) -> FleetLayout:
    """One cluster of `kustomizations` apps (each a Flux Kustomization with a HelmRelease),
    committed, then `commits` one-file commits on top."""
    layout = generate_fleet(root, FleetSpec(clusters=1, kustomizations=kustomizations, seed=seed))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "fleet")
    rng = random.Random(seed)
    for step in range(commits):
        path = _change(root, rng, kustomizations, step)
        _git(root, "add", path, when=step + 1)
        _git(root, "commit", "-q", "-m", f"change {path}", when=step + 1)
    return layout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic fleet with one-file commits.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--kustomizations", type=int, default=50)
    parser.add_argument("--commits", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    layout = fleet_with_history(args.out, kustomizations=args.kustomizations, commits=args.commits, seed=args.seed)
    print(f"{args.out}: {len(layout.files)} files, cluster {layout.cluster_paths[0]}, {args.commits} commits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
