"""`fluxform plan PATH PATH...`: one plan per cluster, in the order given, in every output;
`--out DIR` writes one ordinary plan file per cluster (what `show` reads); the worst
cluster decides the exit code; flags naming one cluster's cluster or state are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fluxform.planner.planfile import FORMAT_VERSION
from fluxform.views.plan_set import PLAN_SET_KIND
from tests.e2e.state_from_plan import record_plan
from tests.support.cli import FIXTURES, KEYS, run

PROD, STAGING = FIXTURES / "fleet/clusters/production", FIXTURES / "fleet/clusters/staging"
FLAGS = ("--keys-dir", KEYS, "--missing-charts", "warn", "--offline", "--no-color")


def _alone(path: Path, *extra: str | Path) -> str:
    result = run("plan", path, *FLAGS, *extra)
    assert result.code == 0, result.err
    return result.out


def test_text_prints_each_cluster_as_alone_then_the_totals() -> None:
    result = run("plan", PROD, STAGING, *FLAGS)

    assert result.code == 0, result.err
    assert result.out == _alone(PROD) + "\n" + _alone(STAGING) + "\n" + result.out.splitlines()[-1] + "\n"
    prod = json.loads(_alone(PROD, "-o", "json"))["summary"]
    staging = json.loads(_alone(STAGING, "-o", "json"))["summary"]
    added = prod["add"] + staging["add"]
    assert result.out.splitlines()[-1].startswith(f"Total for 2 clusters: {added} to add, 0 to change, 0 to destroy")


def test_json_lists_every_cluster_plan_and_markdown_holds_them_all() -> None:
    as_json = run("plan", STAGING, PROD, *FLAGS, "-o", "json")
    as_markdown = run("plan", STAGING, PROD, *FLAGS, "-o", "markdown")

    data = json.loads(as_json.out)
    assert data["kind"] == PLAN_SET_KIND and data["format_version"] == FORMAT_VERSION
    assert [p["target"] for p in data["plans"]] == [str(STAGING), str(PROD)]
    assert data["plans"] == [json.loads(_alone(STAGING, "-o", "json")), json.loads(_alone(PROD, "-o", "json"))]
    assert data["summary"]["add"] == sum(p["summary"]["add"] for p in data["plans"])
    assert as_markdown.code == 0, as_markdown.err
    assert as_markdown.out.startswith("## fluxform plan: 2 clusters")
    for path in (STAGING, PROD):
        assert f"### fluxform plan: `{path}`" in as_markdown.out


def test_out_dir_holds_one_plan_file_per_cluster_that_show_reads(tmp_path: Path) -> None:
    result = run("plan", PROD, STAGING, *FLAGS, "--out", tmp_path / "plans")

    assert result.code == 0, result.err
    assert sorted(p.name for p in (tmp_path / "plans").iterdir()) == ["production.json", "staging.json"]
    for name, path in (("production", PROD), ("staging", STAGING)):
        shown = run("show", tmp_path / "plans" / f"{name}.json", "--no-color")
        assert shown.code == 0 and shown.out == _alone(path)


def test_detailed_exitcode_is_the_worst_cluster_and_an_error_anywhere_writes_nothing(tmp_path: Path) -> None:
    changes = run("plan", PROD, STAGING, *FLAGS, "--detailed-exitcode")
    failed = run("plan", STAGING, PROD, "--keys-dir", KEYS, "--offline", "--out", tmp_path / "plans")

    assert changes.code == 2  # both plan against empty states: everything to add
    assert failed.code == 1 and failed.out == "" and failed.err.startswith("Error: HelmRelease/")
    assert not (tmp_path / "plans").exists()  # staging planned fine, yet nothing was written


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--state", "s.json"), "--state and --backend name one cluster's state"),
        (("--kubeconfig", "k"), "a live plan reads one cluster"),
    ],
    ids=["state", "live"],
)
def test_flags_naming_one_cluster_are_refused(flags: tuple[str, ...], message: str) -> None:
    result = run("plan", PROD, STAGING, *FLAGS, *flags)

    assert result.code == 1 and result.out == ""
    assert message in result.err and result.err.count("\n") == 1, result.err


def test_state_dir_gives_each_cluster_its_own_state(tmp_path: Path) -> None:
    states = tmp_path / "states"
    missing = run("plan", PROD, STAGING, *FLAGS, "--state-dir", states)
    applied = run("plan", PROD, *FLAGS, "--out", tmp_path / "prod.json")
    assert applied.code == 0, applied.err
    states.mkdir()
    record_plan(tmp_path / "prod.json", states / "production.state.json", mask_key="A" * 43 + "=")

    result = run("plan", PROD, STAGING, *FLAGS, "--state-dir", states, "--init-state", "-o", "json")

    assert missing.code == 1 and "production.state.json does not exist" in missing.err
    assert result.code == 0, result.err
    prod, staging = json.loads(result.out)["plans"]
    assert prod["state"]["serial"] == 1 and prod["summary"]["add"] == 0  # applied: nothing left to add
    assert staging["state"]["lineage"] == "" and staging["summary"]["add"] > 0  # a new, empty state
