"""Through the CLI: `plan` checks every rendered object against its schema, as the API server
does when Flux applies it. An owner with an invalid object is not planned (the error names
the owner, the object, the field path and the file), what depends on it goes with it, the
rest is planned; `--no-validate` skips the check; a kind without a schema is one warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fluxform import yamlio
from tests.kubeapi import KubeApi
from tests.kubeapi.discovery import KUBE_VERSION
from tests.support.cli import KEYS, run
from tests.support.fleets import SCHEMA_ERRORS
from tests.support.sops import SopsCli
from tests.support.trees import flux_kustomization, write_tree

AGE_RECIPIENT = "age1eg26z7g52cqtk82wvlva02l24y60sxqx8l2rc0hnxk3zn50jme3sxzkayl"  # fixtures/keys (test-only)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tree(tmp_path_factory.mktemp("schema") / "repo", SCHEMA_ERRORS) / "clusters/dev"


def test_plan_fails_naming_owner_object_field_and_file(fleet: Path) -> None:
    result = run("plan", fleet, "--no-cache")
    assert result.code == 1, result.err
    assert result.out == ""
    errors = result.err.splitlines()
    expected = {
        "Kustomization/flux-system/web": "Deployment/default/web (apps/web/deployment.yaml): "
        ".spec.replicas: expected integer, got string",
        "Kustomization/flux-system/workers": "Deployment/default/workers (apps/workers/deployment.yaml): "
        ".spec.template.spec.containers[0].imagePullPolice: field not declared in schema",
        "Kustomization/flux-system/widgets": "Widget/default/big (apps/widgets/widget.yaml): "
        ".spec.colour: field not declared in schema",
        "Kustomization/flux-system/gadgets": "Gadget/default/g (apps/gadgets/gadget.yaml): "
        '.spec.mode: must be one of "fast", "slow"',
    }
    for owner, violation in expected.items():
        line = next((e for e in errors if e.startswith(f"Error: {owner} ")), "")
        assert violation in line, (owner, result.err)
        assert "the API server would refuse it" in line
    assert errors[-1].startswith("Error: 5 owners not planned (1 of them only because it depends on another)")
    assert "Traceback" not in result.err


def test_partial_plans_the_rest_and_lists_the_invalid_owners(fleet: Path) -> None:
    result = run("plan", fleet, "--no-cache", "--partial", "-o", "json")
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    not_planned = {n["owner"]: n["reason"] for n in plan["not_planned"]}
    assert set(not_planned) == {
        "Kustomization/flux-system/web",
        "Kustomization/flux-system/workers",
        "Kustomization/flux-system/widgets",
        "Kustomization/flux-system/gadgets",
        "Kustomization/flux-system/after-web",
    }
    assert not_planned["Kustomization/flux-system/after-web"] == "depends on Kustomization/flux-system/web"
    planned = {c["id"] for c in plan["changes"]}
    assert {
        "default_fine_apps_Deployment",
        "_widgets.example.com_apiextensions.k8s.io_CustomResourceDefinition",
    } <= planned
    assert "default_web_apps_Deployment" not in planned
    warnings = [d["summary"] for d in plan["diagnostics"] if "has no schema" in d["summary"]]
    assert warnings == [
        "Probe (monitoring.example.io/v1) has no schema (not a Kubernetes 1.37 kind, and no "
        "CustomResourceDefinition in the fleet): 2 object(s) not validated"
    ]


def test_no_validate_plans_what_the_api_server_would_refuse(fleet: Path) -> None:
    result = run("plan", fleet, "--no-cache", "--no-validate")
    assert result.code == 0, result.err
    assert "+ create  Deployment/default/web" in result.out
    assert "not planned" not in result.out


def test_kube_version_picks_the_schemas(fleet: Path) -> None:
    result = run("plan", fleet, "--no-cache", "--partial", "--kube-version", "v1.30.2")
    assert result.code == 0, result.err
    assert "the API server would refuse it (Kubernetes 1.30 schemas)" in result.out


def test_a_bad_kube_version_is_a_usage_error(fleet: Path) -> None:
    result = run("plan", fleet, "--kube-version", "latest")
    assert result.code == 1
    assert result.err.startswith("Error: Invalid value for '--kube-version'")
    assert len(result.err.splitlines()) == 1


def test_a_decrypted_value_never_appears_in_a_validation_error(tmp_path: Path) -> None:
    value = "decrypted-plaintext-5d1e9b"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "default"},
        "immutable": value,  # a boolean field: the schema check fails on the decrypted value
        "stringData": {"password": value},
    }
    encrypted = SopsCli(tmp_path).encrypt(
        yamlio.dump(secret).encode(),
        "yaml",
        age=[AGE_RECIPIENT],
        extra=["--encrypted-regex", "^(immutable|stringData)$"],
    )
    decryption = "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n"
    cluster = (
        write_tree(
            tmp_path / "repo",
            {
                "clusters/dev/sync.yaml": flux_kustomization("flux-system", "./clusters/dev"),
                "clusters/dev/db.yaml": flux_kustomization("db", "./apps/db", decryption),
                "apps/db/secret.yaml": encrypted.decode(),
            },
        )
        / "clusters/dev"
    )
    for output in ("text", "json", "markdown"):
        result = run("plan", cluster, "--keys-dir", KEYS, "--no-cache", "--partial", "-o", output)
        assert result.code == 0, result.err
        assert "Secret/default/db (apps/db/secret.yaml): .immutable: expected boolean, got string" in result.out
        assert value not in result.out + result.err
    failed = run("plan", cluster, "--keys-dir", KEYS, "--no-cache")
    assert failed.code == 1 and ".immutable: expected boolean, got string" in failed.err
    assert value not in failed.out + failed.err


def test_a_live_plan_checks_against_the_cluster_version(fleet: Path, kubeapi: KubeApi) -> None:
    result = run("plan", fleet, "--no-cache", "--partial", "--kubeconfig", kubeapi.kubeconfig, "-o", "json")
    assert result.code == 0, result.err
    reasons = {n["owner"]: n["reason"] for n in json.loads(result.out)["not_planned"]}
    version = KUBE_VERSION.removeprefix("v").rsplit(".", 1)[0]  # the emulator's gitVersion, e.g. 1.36
    assert f"the API server would refuse it (Kubernetes {version} schemas)" in reasons["Kustomization/flux-system/web"]
    live = ("--kubeconfig", kubeapi.kubeconfig)
    explicit = run("plan", fleet, "--no-cache", "--partial", *live, "--kube-version", "1.29")
    assert "(Kubernetes 1.29 schemas)" in explicit.out
