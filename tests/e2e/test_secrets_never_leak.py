"""No decrypted value ever leaves the process: plans (text, JSON, markdown, --out), state,
build output, the build cache and the temp area are searched for every plaintext value."""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from fluxform import yamlio
from tests.e2e.cli import FIXTURES, KEYS, run
from tests.e2e.state_from_plan import record_plan
from tests.e2e.test_plan_offline import _mask_key

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
    record_plan(plan_file, state_file, mask_key=_mask_key())
    outputs.append(run("plan", path, *OFFLINE, "--state", state_file).out)
    for ks in ("apps", "flux-system"):
        built = run("build", "ks", ks, path, *OFFLINE)
        assert built.code == 0, built.err
        assert "***(hmac:" in built.out
        outputs += [built.out, built.err]
    files = [plan_file, state_file, *_files_under(tmp_path / "cache"), *_files_under(temp)]
    blobs = outputs + [f.read_bytes().decode("utf-8", "replace") for f in files]
    for secret in secrets:
        forms = (secret, base64.b64encode(secret.encode()).decode())
        for blob in blobs:
            assert not any(form in blob for form in forms)
    assert _files_under(temp) == [] or all("fluxform" not in str(p) for p in _files_under(temp))


def test_show_secrets_prints_plaintext_and_says_so() -> None:
    secrets = _plaintexts()
    built = run("build", "ks", "flux-system", FIXTURES / "fleet" / "clusters" / "staging", "--keys-dir", KEYS,
                "--show-secrets")  # fmt: skip
    assert built.code == 0, built.err
    assert "printing decrypted Secret values" in built.err
    assert "***(hmac:" not in built.out
    encoded = [base64.b64encode(v.encode()).decode() for v in secrets[:2]]  # staging's values
    assert all(value in built.out for value in encoded)
