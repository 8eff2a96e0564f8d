"""`get`, `build`, `show` and `version` through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fluxform import yamlio
from tests.e2e.state_from_plan import record_plan
from tests.support.cli import FIXTURES, KEYS, run
from tests.support.keys import mask_key_of

STAGING = FIXTURES / "fleet" / "clusters" / "staging"


def test_get_ks_lists_kustomizations_in_dependency_order_with_sources() -> None:
    result = run("get", "ks", STAGING, "--keys-dir", KEYS, "-o", "wide")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["NAME", "PATH", "SOURCE", "DEPENDS", "ON", "STATUS", "OBJECTS", "REASON"]
    names = [line.split()[0] for line in lines[1:]]
    assert names.index("flux-system/infra-controllers") < names.index("flux-system/infra-configs")
    assert names.index("flux-system/infra-configs") < names.index("flux-system/apps")
    apps = next(line for line in lines if line.startswith("flux-system/apps "))
    assert apps.split()[1:4] == ["./apps/staging", "GitRepository/flux-system/flux-system", "flux-system/infra-configs"]


def test_get_sources_shows_the_git_repository_and_its_users() -> None:
    result = run("get", "sources", STAGING, "--keys-dir", KEYS, "-o", "wide")
    assert result.code == 0, result.err
    row = next(line for line in result.out.splitlines() if line.startswith("GitRepository"))
    assert "flux-system/flux-system" in row and "ssh://git@github.com/example-org/fleet-infra" in row
    assert "flux-system/apps" in row


def test_build_ks_prints_the_objects_flux_would_apply() -> None:
    result = run("build", "ks", "team-blue", STAGING, "--keys-dir", KEYS)
    assert result.code == 0, result.err
    docs = yamlio.load_all(result.out)
    assert {d["kind"] for d in docs} == {"ConfigMap", "Service", "Deployment", "CronJob", "NetworkPolicy"}
    assert all(d["metadata"]["namespace"] == "team-blue" for d in docs)  # targetNamespace
    script = next(d for d in docs if d["kind"] == "ConfigMap")
    assert "${" in json.dumps(script["data"])  # substitute: disabled keeps the shell's ${...}


def test_build_ks_unknown_name_lists_the_known_ones() -> None:
    result = run("build", "ks", "nope", STAGING, "--keys-dir", KEYS)
    assert result.code == 1
    assert "Kustomization nope not found" in result.err and "flux-system/apps" in result.err


def test_show_prints_a_saved_plan_and_rejects_other_files(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    planned = run("plan", STAGING, "--keys-dir", KEYS, "--out", plan_file, "--no-color")
    shown = run("show", plan_file)
    assert shown.code == 0
    assert shown.out == planned.out
    assert json.loads(run("show", plan_file, "--format", "json").out)["summary"]["add"] == 46
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    result = run("show", bogus)
    assert result.code == 1 and "not a fluxform plan file" in result.err


def test_version_names_every_tool() -> None:
    result = run("version")
    assert result.code == 0
    keys = [line.split(":")[0] for line in result.out.splitlines()]
    assert keys == ["fluxform", "kustomize", "helm", "sops"]
    lines = dict(line.split(": ", 1) for line in result.out.splitlines())
    assert lines["kustomize"].endswith(("engine inprocess)", "engine subprocess)"))
    assert "v4." in lines["helm"] and "3.11" in lines["sops"]


def test_fluxform_yaml_gives_the_cluster_path_and_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(FIXTURES / "minimal", fleet)
    (fleet / "fluxform.yaml").write_text("cluster: clusters/dev\nstate:\n  path: .fluxform/dev.json\n")
    monkeypatch.chdir(fleet)
    out = tmp_path / "plan.json"
    first = run("plan", "--out", out)
    assert first.code == 0, first.err
    assert "Plan: 5 to add, 0 to change, 0 to destroy." in first.out
    record_plan(out, fleet / ".fluxform" / "dev.json", mask_key=mask_key_of(KEYS))
    second = run("plan", "--detailed-exitcode")
    assert second.code == 0, second.out + second.err
    assert "serial 1" in second.out


def test_no_path_and_no_config_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("plan")
    assert result.code == 1  # a usage error, not "changes" (issue 15, item 8)
    assert "give the cluster PATH, or set `cluster:` in fluxform.yaml" in result.err


def test_build_without_keys_shows_sops_data_as_flux_build_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key at all: `build` still shows every Kustomization (a plan would leave the
    decrypting ones out); a SOPS Secret loses its `sops:` block and its values read
    **SOPS** (base64 in data), as in Flux's own CLI goldens."""
    for variable in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE"):
        monkeypatch.delenv(variable, raising=False)
    root = run("build", "ks", "flux-system", STAGING, "--no-cache")
    apps = run("build", "ks", "apps", STAGING, "--no-cache")

    assert root.code == 0 and apps.code == 0, root.err + apps.err
    secret = next(d for d in yamlio.load_all(root.out) if d["metadata"]["name"] == "cluster-secrets")
    assert "sops" not in secret
    assert secret["data"] == {"api_token": "KipTT1BTKio=", "redis_password": "KipTT1BTKio="}
    assert "ENC[" not in json.dumps(secret)
