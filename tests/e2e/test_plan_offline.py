"""`fluxform plan` without a cluster, end to end through the CLI on the example fleet."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.state_from_plan import record_plan
from tests.support.cli import FIXTURES, KEYS, run
from tests.support.keys import mask_key_of
from tests.support.trees import replace_in_file

STAGING = FIXTURES / "fleet" / "clusters" / "staging"
GOLDEN = Path(__file__).parent / "golden"


def _applied_staging(fleet_copy: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The staging cluster of a fleet copy, and a state recording its plan as applied."""
    cluster = fleet_copy / "clusters" / "staging"
    plan_file = tmp_path / "plan.json"
    assert run("plan", cluster, "--keys-dir", KEYS, "--out", plan_file).code == 0
    state_file = tmp_path / "state.json"
    record_plan(plan_file, state_file, mask_key=mask_key_of(KEYS))
    return cluster, state_file


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("FLUXFORM_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs; rerun with FLUXFORM_UPDATE_GOLDEN=1 if intended"


def test_plan_of_example_fleet_matches_golden_and_is_deterministic(
    fleet_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a copy outside git: the self source's revision is then the artifact digest, which only
    # the fixture's content decides (inside git it would be the commit, changing every commit)
    monkeypatch.chdir(fleet_copy.parent)
    first = run("plan", "fleet/clusters/staging", "--keys-dir", KEYS, "--no-color")
    second = run("plan", "fleet/clusters/staging", "--keys-dir", KEYS, "--no-color")
    assert first.code == 0, first.err
    assert first.out == second.out
    assert first.out.rstrip().endswith("Plan: 46 to add, 0 to change, 0 to destroy.")
    _check_golden("staging-plan.txt", first.out)


def test_detailed_exitcode_is_2_with_changes_and_0_without(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = run("plan", STAGING, "--keys-dir", KEYS, "--detailed-exitcode", "--out", out)
    assert result.code == 2
    state_file = tmp_path / "state.json"
    record_plan(out, state_file, mask_key=mask_key_of(KEYS))
    again = run("plan", STAGING, "--keys-dir", KEYS, "--detailed-exitcode", "--state", state_file)
    assert again.code == 0, again.out + again.err
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in again.out


def test_json_format_is_the_documented_schema(tmp_path: Path) -> None:
    result = run("plan", STAGING, "--keys-dir", KEYS, "--format", "json", "--out", tmp_path / "p.json")
    data = json.loads(result.out)
    assert data["format_version"] == "2.2"
    assert data["summary"] == {"add": 46, "change": 0, "destroy": 0, "forget": 0, "unchanged": 0, "not_planned": 0}
    assert (tmp_path / "p.json").read_text() == result.out
    assert oct((tmp_path / "p.json").stat().st_mode & 0o777) == "0o600"
    owners = [o["id"] for o in data["owners"]]
    assert (
        owners.index("Kustomization/flux-system/infra-controllers")
        < owners.index("Kustomization/flux-system/infra-configs")
        < owners.index("Kustomization/flux-system/apps")
    )
    hpa = next(c for c in data["changes"] if c["kind"] == "HorizontalPodAutoscaler")
    assert hpa["after"]["spec"]["minReplicas"] == 1  # unquoted ${var} became an int, as in Flux
    assert hpa["id"] == "apps_podinfo_autoscaling_HorizontalPodAutoscaler"


def test_markdown_has_summary_table() -> None:
    result = run("plan", STAGING, "--keys-dir", KEYS, "--format", "markdown")
    assert result.code == 0
    assert "**Plan: 46 to add, 0 to change, 0 to destroy.**" in result.out
    assert "| `Kustomization/flux-system/apps` | built | 9 | 0 | 0 | 0 |" in result.out


def test_edit_delete_and_move_against_recorded_state(fleet_copy: Path, tmp_path: Path) -> None:
    cluster, state_file = _applied_staging(fleet_copy, tmp_path)

    quotas = fleet_copy / "infrastructure" / "configs" / "quotas.yaml"
    replace_in_file(quotas, 'requests.cpu: "2"', 'requests.cpu: "8"')
    (fleet_copy / "infrastructure" / "configs" / "storage-classes.yaml").unlink()
    kustomization = fleet_copy / "infrastructure" / "configs" / "kustomization.yaml"
    replace_in_file(kustomization, "  - storage-classes.yaml\n", "")

    result = run("plan", cluster, "--keys-dir", KEYS, "--state", state_file, "--no-color")
    assert result.code == 0, result.err
    assert "~ update  ResourceQuota/team-blue/team-blue-quota" in result.out
    assert '      fields: spec.hard["requests.cpu"]' in result.out
    assert "      -    requests.cpu: '2'\n      +    requests.cpu: '8'" in result.out
    assert (
        "- delete  StorageClass/fast-ssd  # no longer rendered by Kustomization/flux-system/infra-configs" in result.out
    )
    # guestbook's chart uses reconcileStrategy: Revision, so any new source revision is a new
    # chart version (helm.sh/chart label) on its 4 objects, as in Flux
    assert "~ update  Deployment/web/web-guestbook-podinfo-lite" in result.out
    assert "Plan: 0 to add, 5 to change, 1 to destroy." in result.out


def test_suspended_kustomization_is_skipped_and_never_pruned(fleet_copy: Path, tmp_path: Path) -> None:
    cluster, state_file = _applied_staging(fleet_copy, tmp_path)
    tenants = cluster / "tenants.yaml"
    replace_in_file(tenants, "spec:\n", "spec:\n  suspend: true\n", count=1)
    result = run("plan", cluster, "--keys-dir", KEYS, "--state", state_file, "--no-color")
    assert "skipped: suspended" in result.out
    assert "delete" not in result.out.replace("to destroy", "")
    assert "~ update  Kustomization/flux-system/team-blue" in result.out


def test_prune_false_forgets_instead_of_deleting(fleet_copy: Path, tmp_path: Path) -> None:
    cluster, state_file = _applied_staging(fleet_copy, tmp_path)
    infra = cluster / "infrastructure.yaml"
    text = infra.read_text()
    configs_at = text.index("name: infra-configs")
    infra.write_text(text[:configs_at] + text[configs_at:].replace("prune: true", "prune: false", 1))
    (fleet_copy / "infrastructure" / "configs" / "storage-classes.yaml").unlink()
    kustomization = fleet_copy / "infrastructure" / "configs" / "kustomization.yaml"
    replace_in_file(kustomization, "  - storage-classes.yaml\n", "")
    result = run("plan", cluster, "--keys-dir", KEYS, "--state", state_file, "--no-color")
    assert ". forget  StorageClass/fast-ssd  # Kustomization/flux-system/infra-configs has prune: false" in result.out
    assert "1 to forget" in result.out


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "dependson-cycle",
            "not planned: dependsOn cycle: Kustomization/flux-system/apps -> Kustomization/flux-system/infra",
        ),
        (
            "invalid-yaml",
            "(clusters/test/sync.yaml): not planned: apps/broken.yaml:8: failed to decode Kubernetes YAML",
        ),
        ("kustomize-missing-resource", "not planned: kustomize build failed"),
        ("missing-sourceref", "(clusters/test/sync.yaml): not planned: spec.sourceRef is required"),
        ("remote-base", "is not supported offline"),
        ("undefined-variable", 'variable not set (strict mode): "cluster_region"'),
        ("unknown-sourceref", "not planned: cannot resolve spec.sourceRef GitRepository/flux-system/platform-repo"),
        ("invalid-schema", "(apps/deployment.yaml): .spec.replicas: expected integer, got string"),
    ],
)
def test_bad_input_is_one_line_error_exit_1_and_no_plan_file(case: str, expected: str, tmp_path: Path) -> None:
    """One owner fails (or, for a cycle, its members for one reason): one line naming it,
    its file and why, saying --partial would plan the rest; nothing written."""
    out = tmp_path / "plan.json"
    result = run("plan", FIXTURES / "bad" / case / "clusters" / "test", "--out", out)
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("Error: ") and result.err.count("\n") == 1, result.err
    assert expected in result.err and "plan the rest with --partial" in result.err
    assert "Traceback" not in result.err
    assert not out.exists()


def test_the_same_object_from_two_owners_with_different_content_is_planned_with_a_warning() -> None:
    """Flux applies both copies and the later one wins: planned so, the two files named."""
    result = run("plan", FIXTURES / "bad" / "duplicate-ids" / "clusters" / "test", "--no-color")
    assert result.code == 0, result.err
    assert "ConfigMap/default/shared-settings is also rendered by Kustomization/flux-system/team-b" in result.out
    assert "with different content (team-a/" in result.out and "and team-b/" in result.out


def test_missing_path_is_an_error() -> None:
    result = run("plan", FIXTURES / "does-not-exist")
    assert result.code == 1
    assert "does not exist" in result.err


def test_non_strict_substitution_makes_undefined_variable_empty() -> None:
    result = run("plan", FIXTURES / "bad" / "undefined-variable" / "clusters" / "test", "--no-strict-substitute")
    assert result.code == 0, result.err
    assert "substitution: non-strict" in result.out
