"""The docs' commands run green: every marked block of README.md and docs/*.md
(tests/support/doccommands.py) runs against the example fleet in a fresh shell with the venv
activated: tours succeed line by line, troubleshooting commands fail with exactly the errors
the page shows, and the CI workflows' steps run on a pull request of the example fleet."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from fluxform import yamlio
from tests.support.doccommands import (
    REPO,
    DocBlock,
    doc_blocks,
    error_pattern,
    fresh_shell,
    link_repository,
    run_bash,
    shell_script,
)
from tests.support.gitrepo import TestRepo

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCKS = [block for path in DOCS for block in doc_blocks(path)]
TEST_AGE_KEY = next(
    line.strip()
    for line in (REPO / "fixtures/keys/test-only.agekey").read_text().splitlines()
    if line.startswith("AGE-")
)


def blocks_of(*kinds: str) -> list[Any]:
    return [pytest.param(b, id=b.name) for b in BLOCKS if b.kind in kinds]


def test_the_docs_mark_what_they_run() -> None:
    """Each doc with commands has runnable blocks, and every marker is a known kind."""
    assert {b.kind for b in BLOCKS} <= {"run", "fails", "github-workflow", "gitlab-ci"}
    files = {b.file for b in BLOCKS}
    assert {"README.md", "docs/github-actions.md", "docs/gitlab-ci.md", "docs/troubleshooting.md"} <= files
    assert sum(1 for b in BLOCKS if b.kind == "fails") >= 10  # the ten most common errors


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh directory with the repository's fixtures and tests linked in."""
    link_repository(tmp_path, "fixtures", "tests")
    return tmp_path


@pytest.mark.parametrize("block", blocks_of("run"))
def test_tour_blocks_run(block: DocBlock, workspace: Path) -> None:
    result = run_bash(shell_script(block.body), workspace, fresh_shell(workspace))
    assert result.returncode == 0, f"{block.name}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("block", blocks_of("fails"))
def test_troubleshooting_errors_are_the_real_ones(block: DocBlock, workspace: Path) -> None:
    result = run_bash(shell_script(block.body).replace("exit 1; }", "exit 99; }"), workspace, fresh_shell(workspace))
    assert result.returncode == 99, f"{block.name}: expected the command to fail\n{result.stdout[-2000:]}"
    errors = "\n".join(line for line in result.stderr.splitlines() if line.startswith("Error: "))
    assert error_pattern(block.expected).match(errors + "\n"), f"{block.name}: stderr was\n{errors}"


def pull_request(tmp_path: Path) -> tuple[TestRepo, str, str]:
    """A repository holding the example fleet (its staging cluster: production needs charts
    from the internet), and a pull request raising a ResourceQuota and rotating nothing."""
    repo = TestRepo.create(tmp_path / "repo")
    repo.copy_in(REPO / "fixtures/fleet")
    shutil.rmtree(repo.path / "clusters/production")
    base = repo.commit("the example fleet")
    quota = next(p for p in (repo.path / "infrastructure").rglob("*.yaml") if "requests.cpu" in p.read_text())
    text = quota.read_text()
    cpu = re.search(r"requests\.cpu: ['\"]?(\d+)['\"]?", text)
    assert cpu is not None
    quota.write_text(text.replace(cpu.group(0), f"requests.cpu: '{int(cpu.group(1)) + 6}'", 1))
    head = repo.commit("more CPU for the team")
    return repo, base, head


def _ci_only(script: str) -> bool:
    return script.lstrip().startswith("# CI only")


@pytest.mark.parametrize("block", blocks_of("github-workflow"))
def test_github_workflow_steps_run(block: DocBlock, tmp_path: Path) -> None:
    repo, base, head = pull_request(tmp_path)
    workflow = yamlio.load(block.body)
    [job] = workflow["jobs"].values()
    env = fresh_shell(tmp_path)
    outputs: dict[str, dict[str, str]] = {}
    expressions = {
        "github.event.pull_request.base.sha": base,
        "github.event.pull_request.head.sha": head,
        "github.event.pull_request.number": "7",
        "github.sha": head,
        "github.token": "not-a-token",
        "secrets.SOPS_AGE_KEY": TEST_AGE_KEY,
    }
    ran = []
    for step in job["steps"]:
        if "run" not in step or _ci_only(step["run"]):
            continue

        def value(match: re.Match[str]) -> str:
            expr = match.group(1).strip()
            if expr.startswith("steps."):
                _, step_id, _, name = expr.split(".")
                return outputs.get(step_id, {}).get(name, "")
            return expressions[expr]

        script = re.sub(r"\$\{\{(.*?)\}\}", value, step["run"])
        step_env = {k: re.sub(r"\$\{\{(.*?)\}\}", value, str(v)) for k, v in (step.get("env") or {}).items()}
        output_file, summary = tmp_path / "github-output", tmp_path / "step-summary.md"
        output_file.write_text("")
        result = run_bash(
            "set -e\n" + script,
            repo.path,
            {**env, **step_env, "GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary)},
        )
        assert result.returncode == 0, f"step {step.get('name')}: {result.stderr[-3000:]}"
        outputs[step.get("id", "")] = dict(
            line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line
        )
        ran.append(step.get("name"))
    assert ran, "no step ran"
    report = (repo.path / "diff.md").read_text()
    assert report.startswith("### fluxform diff:") and "requests.cpu" in report
    assert outputs["diff"]["changed"] == "true"
    assert json.loads((repo.path / "diff.json").read_text())["kind"] == "fluxform-diff"
    assert (tmp_path / "step-summary.md").read_text() == report


@pytest.mark.parametrize("block", blocks_of("gitlab-ci"))
def test_gitlab_job_script_runs(block: DocBlock, tmp_path: Path) -> None:
    repo, base, head = pull_request(tmp_path)
    pipeline = yamlio.load(block.body)
    jobs = [job for job in pipeline.values() if isinstance(job, dict) and "script" in job]
    [job] = jobs
    variables = {k: str(v) for k, v in (job.get("variables") or {}).items()}
    env = {
        **fresh_shell(tmp_path),
        "CI_PROJECT_DIR": str(repo.path),
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": base,
        "CI_COMMIT_SHA": head,
        "CI_MERGE_REQUEST_IID": "7",
        "SOPS_AGE_KEY": TEST_AGE_KEY,
    }
    # GitLab expands $VARIABLES in `variables:` itself
    env.update({k: re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), v) for k, v in variables.items()})
    scripts = [s for s in job["script"] if not _ci_only(s)]
    assert scripts and len(scripts) < len(job["script"])  # posting the note is CI only
    result = run_bash("set -e\n" + "\n".join(scripts), repo.path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = (repo.path / "diff.md").read_text()
    assert report.startswith("### fluxform diff:") and "requests.cpu" in report
    cache = Path(env["XDG_CACHE_HOME"]) / "fluxform"
    assert cache.is_dir() and cache.resolve().is_relative_to(repo.path.resolve())  # GitLab caches only the project dir
    for path in job["cache"]["paths"]:
        assert (repo.path / path).exists(), path
