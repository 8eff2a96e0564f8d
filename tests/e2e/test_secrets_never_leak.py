"""No decrypted value ever leaves the process: plans (text, JSON, markdown, --out), state,
build output, the build cache and the temp area are searched for every plaintext value, and
so are the errors of runs that fail on a decrypted value (issue 15, item 3)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from fluxform import yamlio
from tests.e2e.live_cluster import apply_fleet, ensure_namespace, install_flux_crds, patch_live
from tests.e2e.state_from_plan import record_plan
from tests.kubeapi import KubeApi
from tests.support.cli import FIXTURES, KEYS, run
from tests.support.keys import mask_key_of

SOPS = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "sops"
ENCRYPTED = [
    ("fleet/clusters/staging/vars/cluster-secrets.yaml", "yaml"),
    ("fleet/clusters/production/vars/cluster-secrets.yaml", "yaml"),
    ("fleet/apps/production/podinfo-secrets.env", "dotenv"),
]


def _plaintexts() -> list[str]:
    """The fixture secrets' values, decrypted in memory with the test-only key."""
    values: list[str] = []
    env = dict(os.environ, SOPS_AGE_KEY_FILE=str(KEYS / "test-only.agekey"))
    for rel, kind in ENCRYPTED:
        plain = subprocess.run(
            [str(SOPS), "--disable-version-check", "--decrypt", "--input-type", kind, "--output-type", kind,
             str(FIXTURES / rel)],
            env=env, capture_output=True, check=True,
        ).stdout.decode()  # fmt: skip
        if kind == "dotenv":
            values += [line.partition("=")[2] for line in plain.splitlines() if "=" in line]
        else:
            values += [str(v) for v in (yamlio.load(plain).get("stringData") or {}).values()]
    assert len(values) >= 6 and all(len(v) >= 8 for v in values)
    return values


# production's external charts cannot be fetched here: their releases are skipped with a warning
OFFLINE = ("--keys-dir", KEYS, "--offline", "--missing-charts", "warn")


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("cluster", ["staging", "production"])
def test_no_plaintext_in_any_output_file_or_temp(cluster: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = _plaintexts()
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    path = FIXTURES / "fleet" / "clusters" / cluster
    plan_file = tmp_path / "plan.json"
    outputs = []
    for fmt in ("text", "json", "markdown"):
        result = run("plan", path, *OFFLINE, "--format", fmt, "--out", plan_file)
        assert result.code == 0, result.err
        outputs += [result.out, result.err]
    state_file = tmp_path / "state.json"
    record_plan(plan_file, state_file, mask_key=mask_key_of(KEYS))
    outputs.append(run("plan", path, *OFFLINE, "--state", state_file).out)
    for ks in ("apps", "flux-system"):
        built = run("build", "ks", ks, path, *OFFLINE)
        assert built.code == 0, built.err
        assert "***(hmac:" in built.out
        outputs += [built.out, built.err]
    for fmt in ("text", "json", "markdown"):
        shown = run("show", plan_file, "--format", fmt)
        assert shown.code == 0, shown.err
        outputs.append(shown.out)
    files = [plan_file, state_file, *_files_under(tmp_path / "cache"), *_files_under(temp)]
    blobs = outputs + [f.read_bytes().decode("utf-8", "replace") for f in files]
    for secret in secrets:
        forms = (secret, base64.b64encode(secret.encode()).decode())
        for blob in blobs:
            assert not any(form in blob for form in forms)
    assert _files_under(temp) == [] or all("fluxform" not in str(p) for p in _files_under(temp))


def test_secret_variables_substituted_into_other_kinds_are_masked(fleet_copy: Path, tmp_path: Path) -> None:
    """substituteFrom a Secret puts its values wherever `${var}` stands, a ConfigMap or a
    Deployment's env included: those leaves are masked as the Secret's data is."""
    apps = fleet_copy / "apps" / "staging"
    (apps / "leak.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n"
        "  url: postgres://app:${redis_password}@db:5432\n  token: ${api_token}\n  region: ${cluster_region}\n"
    )
    overlay = apps / "kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("resources:\n", "resources:\n  - leak.yaml\n", 1))
    cluster = fleet_copy / "clusters" / "staging"
    plan_file, state_file = tmp_path / "plan.json", tmp_path / "state.json"
    outputs = []
    for fmt in ("text", "json", "markdown"):
        result = run("plan", cluster, *OFFLINE, "-o", fmt, "--out", plan_file)
        assert result.code == 0, result.err
        outputs += [result.out, result.err]
    record_plan(plan_file, state_file, mask_key=mask_key_of(KEYS))
    built = run("build", "ks", "apps", cluster, *OFFLINE)
    assert built.code == 0, built.err
    outputs += [built.out, plan_file.read_text(), state_file.read_text()]

    leak = next(d for d in yamlio.load_all(built.out) if d["metadata"]["name"] == "leak")
    assert leak["data"]["url"].startswith("***") and leak["data"]["token"].startswith("***")
    assert not leak["data"]["region"].startswith("***")  # a ConfigMap variable stays readable
    for secret in _plaintexts()[:2]:  # staging's api_token and redis_password
        forms = (secret, base64.b64encode(secret.encode()).decode())
        assert not any(form in blob for form in forms for blob in outputs)


def test_show_secrets_prints_plaintext_and_says_so() -> None:
    secrets = _plaintexts()
    built = run("build", "ks", "flux-system", FIXTURES / "fleet" / "clusters" / "staging", "--keys-dir", KEYS,
                "--show-secrets")  # fmt: skip
    assert built.code == 0, built.err
    assert "printing decrypted Secret values" in built.err
    assert "***(hmac:" not in built.out
    encoded = [base64.b64encode(v.encode()).decode() for v in secrets[:2]]  # staging's values
    assert all(value in built.out for value in encoded)


def test_no_plaintext_in_a_live_plan_file(kubeapi: KubeApi, tmp_path: Path) -> None:
    """The cluster holds the decrypted Secrets: the live plan's file (before, after, desired,
    drift) and its outputs still hold fingerprints only, even for a value changed in the cluster."""
    secrets = _plaintexts()
    staging = FIXTURES / "fleet" / "clusters" / "staging"
    state_file = tmp_path / "state.json"
    ensure_namespace(kubeapi, "flux-system")
    install_flux_crds(kubeapi)
    apply_fleet(kubeapi, staging, state_file)
    token = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "podinfo-token", "namespace": "apps"}}
    patch_live(kubeapi, {**token, "stringData": {"token": "changed-outside-7f3a9"}})
    plan_file = tmp_path / "plan.json"
    args = ("plan", staging, "--keys-dir", KEYS, "--kubeconfig", kubeapi.kubeconfig, "--state", state_file)
    outputs = [run(*args, "--format", fmt, "--out", plan_file).out for fmt in ("text", "markdown")]
    data = json.loads(plan_file.read_text())
    change = next(c for c in data["changes"] if c["id"] == "apps_podinfo-token__Secret")
    assert change["action"] == "update" and change["desired"]["data"]["token"].startswith("***(hmac:")
    blobs = [*outputs, plan_file.read_text(), run("show", plan_file).out]
    for secret in [*secrets, "changed-outside-7f3a9"]:
        forms = (secret, base64.b64encode(secret.encode()).decode())
        assert not any(form in blob for form in forms for blob in blobs)


# -- error paths ----------------------------------------------------------------------------

AGE_RECIPIENT = "age1eg26z7g52cqtk82wvlva02l24y60sxqx8l2rc0hnxk3zn50jme3sxzkayl"  # fixtures/keys (test-only)


def _encrypt(plain: bytes, fmt: str, **extra: str) -> bytes:
    argv = [str(SOPS), "--disable-version-check", "--config", os.devnull, "encrypt", "--age", AGE_RECIPIENT]
    argv += ["--input-type", fmt, "--output-type", fmt, *(a for kv in extra.items() for a in kv), "/dev/stdin"]
    return subprocess.run(argv, input=plain, capture_output=True, check=True).stdout


def _leaks(text: str, secret: str) -> list[str]:
    """Forms of `secret` in `text`: whole, base64, Go's byte list, or any 8-character piece."""
    raw = secret.encode("utf-8", "replace")
    forms = [secret, base64.b64encode(raw).decode(), " ".join(str(b) for b in raw)]
    pieces = [secret[i : i + 8] for i in range(max(0, len(secret) - 7))]
    return [f for f in forms + pieces if len(f) >= 8 and f in text]


def _failing_plan(cluster: Path) -> str:
    result = run("plan", cluster, *OFFLINE)
    assert result.code == 1, result.out + result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.err
    return result.out + result.err


def test_schema_error_quoting_an_encrypted_valuesfrom_value_is_masked(fleet_copy: Path) -> None:
    """podinfo-secrets (a SOPS .env) REDIS_PASSWORD fed to the chart's ui.color, whose
    values.schema.json `pattern` it fails: Helm quotes the value."""
    overlay = fleet_copy / "apps" / "production" / "kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("targetPath: redis-lite.auth.password", "targetPath: ui.color"))
    text = _failing_plan(fleet_copy / "clusters" / "production")
    assert "does not match pattern" in text and "***(hmac:" in text
    secret = next(v for v in _plaintexts() if len(v) == 24)  # REDIS_PASSWORD
    assert _leaks(text, secret) == []


def test_substitution_error_quoting_part_of_an_encrypted_value_is_masked(fleet_copy: Path) -> None:
    """A substituteFrom Secret value starting with `*` lands unquoted in a manifest: a YAML
    parser reports an undefined alias, PyYAML's pure-Python one naming it after the rest of
    the value (masked by the scrub if it ever reaches the message)."""
    secret = "*Secr3tAliasValue9"
    doc = yamlio.dump(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "cluster-secrets", "namespace": "flux-system"},
            "stringData": {"alias_secret": secret},
        }
    ).encode()
    vars_file = fleet_copy / "clusters" / "staging" / "vars" / "cluster-secrets.yaml"
    vars_file.write_bytes(_encrypt(doc, "yaml", **{"--encrypted-regex": "^stringData$"}))
    apps = fleet_copy / "apps" / "staging"
    (apps / "leak.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  leak: ${alias_secret}\n"
    )
    overlay = apps / "kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("resources:\n", "resources:\n  - leak.yaml\n", 1))
    text = _failing_plan(fleet_copy / "clusters" / "staging")
    assert "not valid YAML after variable substitution: found undefined alias" in text
    assert _leaks(text, secret) == [] and _leaks(text, secret[1:]) == []


def test_kustomize_error_quoting_a_decrypted_generator_input_is_masked(fleet_copy: Path) -> None:
    """A SOPS .env read by a secretGenerator `envs:` decrypts to a line kustomize refuses
    (invalid UTF-8): kustomize quotes the line, as text and as Go bytes."""
    secret = "Sup3rBinarySecretValue"
    apps = fleet_copy / "apps" / "staging"
    (apps / "bad.env").write_bytes(_encrypt(b"GOOD=1\nTOKEN=\xff\xfe" + secret.encode() + b"\n", "dotenv"))
    overlay = apps / "kustomization.yaml"
    overlay.write_text(overlay.read_text() + "secretGenerator:\n  - name: bad\n    envs:\n      - bad.env\n")
    text = _failing_plan(fleet_copy / "clusters" / "staging")
    assert "invalid utf8" in text and "***(hmac:" in text
    assert _leaks(text, secret) == []
    assert "83 117 112 51 114" not in text  # "Sup3r" as Go prints the line's bytes
