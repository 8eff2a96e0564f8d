"""A SOPS file edited after it was encrypted (its MAC no longer matches) is planned as Flux
applies it, with one warning naming the file (issue 15, "Also")."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import KEYS, run


def test_mac_mismatch_of_a_whole_file_secret_is_one_warning(fleet_copy: Path) -> None:
    secrets = fleet_copy / "clusters" / "staging" / "vars" / "cluster-secrets.yaml"
    text = secrets.read_text()
    assert text.count("type: Opaque") == 1
    secrets.write_text(text.replace("type: Opaque", "type: kubernetes.io/opaque"))  # a clear-text field
    result = run("plan", fleet_copy / "clusters" / "staging", "--keys-dir", KEYS, "--no-color")
    assert result.code == 0, result.err
    warnings = [line for line in result.out.splitlines() if "MAC mismatch" in line]
    assert len(warnings) == 1, result.out
    assert "(clusters/staging/vars/cluster-secrets.yaml): SOPS MAC mismatch" in warnings[0]
    assert "Flux does not check the MAC" in warnings[0]
    assert "Plan: 46 to add" in result.out  # planned as Flux applies it


def test_untouched_encrypted_files_give_no_warning(fleet_copy: Path) -> None:
    result = run("plan", fleet_copy / "clusters" / "staging", "--keys-dir", KEYS, "--no-color")
    assert result.code == 0, result.err
    assert "MAC mismatch" not in result.out
