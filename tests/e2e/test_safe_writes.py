"""Files fluxform writes through the CLI (`plan --out`, `state pull -o`) cannot be redirected,
are private, and a bad target is one clear error with nothing left behind."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.support.cli import run
from tests.support.readonly import read_only
from tests.support.trees import write_tree

CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: default
data:
  mode: safe
"""


def _fleet(tmp_path: Path) -> Path:
    return write_tree(
        tmp_path / "fleet", {"kustomization.yaml": "resources: [settings.yaml]\n", "settings.yaml": CONFIG}
    )


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0]


def test_out_never_follows_a_link_planted_at_a_temp_name(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "plan.json"
    (tmp_path / ".plan.json.tmp").symlink_to(victim)
    result = run("plan", _fleet(tmp_path), "--out", out)
    assert result.code == 0, result.err
    assert victim.read_text() == "precious"
    assert '"changes"' in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_out_into_a_directory_is_refused_without_a_stray_temp_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = run("plan", _fleet(tmp_path), "--out", out)
    assert result.code == 1
    assert "is a directory" in _one_error_line(result.err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "fleet", "out"]  # cache: conftest
    assert list(out.iterdir()) == []


def test_out_into_a_read_only_directory_is_one_line(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path)
    with read_only(tmp_path / "ro") as directory:
        result = run("plan", fleet, "--out", directory / "plan.json")
        assert list(directory.iterdir()) == []
    assert result.code == 1
    assert f"cannot write {directory / 'plan.json'}" in _one_error_line(result.err)


def test_state_pull_over_an_existing_readable_file_leaves_it_private(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path)
    plan_file = tmp_path / "plan.json"
    assert run("plan", fleet, "--out", plan_file).code == 0
    from tests.e2e.state_from_plan import record_plan

    state_file = tmp_path / "state.json"
    record_plan(plan_file, state_file, mask_key="A" * 43 + "=")
    pulled = tmp_path / "pulled.json"
    pulled.write_text("old")
    pulled.chmod(0o644)
    result = run("state", "pull", "--state", state_file, "-o", pulled)
    assert result.code == 0, result.err
    assert stat.S_IMODE(pulled.stat().st_mode) == 0o600
    assert '"maskKey"' in pulled.read_text()
