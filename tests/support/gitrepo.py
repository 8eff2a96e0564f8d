"""Real git repositories in temp dirs for diff tests: write files, commit, clone shallow.

repo = TestRepo.create(tmp_path / "repo")
repo.copy_in(FIXTURES / "fleet", "fleet")
base = repo.commit("base")
repo.write("fleet/apps/staging/kustomization.yaml", text)
head = repo.commit("change")
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from fluxform.tool import find_executable, run_tool
from tests.support.trees import replace_in_file

__all__ = ["TestRepo", "generated_fleet_repo"]


def _git() -> str:
    git = find_executable("git")
    assert git is not None, "git is required for the diff tests"
    return git


@dataclass(frozen=True)
class TestRepo:
    __test__ = False  # not a pytest test class

    path: Path

    @classmethod
    def create(cls, path: Path) -> TestRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "-q", "-b", "main")
        repo.git("config", "user.name", "fluxform tests")
        repo.git("config", "user.email", "tests@fluxform.invalid")
        repo.git("config", "commit.gpgsign", "false")
        return repo

    def git(self, *args: str) -> str:
        return run_tool([_git(), *args], tool="git", cwd=self.path).stdout.decode()

    def write(self, rel: str, text: str) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text(encoding="utf-8")

    def replace(self, rel: str, old: str, new: str) -> None:
        replace_in_file(self.path / rel, old, new)

    def copy_in(self, source: Path, rel: str = "") -> None:
        shutil.copytree(source, self.path / rel if rel else self.path, dirs_exist_ok=True)

    def move(self, old: str, new: str) -> None:
        self.git("mv", old, new)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def shallow_clone(self, destination: Path, depth: int) -> TestRepo:
        run_tool([_git(), "clone", "-q", f"--depth={depth}", self.path.as_uri(), str(destination)], tool="git")
        return TestRepo(destination)


def generated_fleet_repo(path: Path, *, clusters: int, kustomizations: int, seed: int = 0) -> TestRepo:
    """A repository holding a bench/fleetgen.py fleet at its top, not yet committed."""
    from bench.fleetgen import FleetSpec, generate_fleet

    repo = TestRepo.create(path)
    generate_fleet(path, FleetSpec(clusters=clusters, kustomizations=kustomizations, seed=seed))
    return repo
