"""`fluxform state ...` and `force-unlock` through click's runner, on a local state."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import Result

from fluxform.commands.state import REDACTED_MASK_KEY, force_unlock, state_group
from fluxform.errors import StateError
from fluxform.state.local import LocalBackend
from fluxform.state.lock import LockHeld, new_lock_info
from fluxform.state.model import new_state, next_revision, state_from_json, state_to_json
from tests.support.cli import invoke
from tests.support.states import small_state

WEB = "apps_web_apps_Deployment"
CREDS = "apps_web-creds__Secret"
OWNER = "flux-system_apps_kustomize.toolkit.fluxcd.io_Kustomization"


@pytest.fixture
def state_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    path = tmp_path / "c.state.json"
    backend = LocalBackend(path)
    first = backend.write(small_state())
    backend.write(next_revision(first, first.owners, operation="apply", by="second@host"))
    return path


def run(*args: str, input: str | None = None) -> Result:
    """The `state` command group."""
    return invoke(state_group, *args, input=input)


def test_list_shows_ids_api_versions_and_owners(state_file: Path) -> None:
    result = run("list", "--state", str(state_file))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["ID", "API", "VERSION", "OWNER"]
    assert any(
        line.startswith(WEB) and "apps/v1" in line and "Kustomization/flux-system/apps" in line for line in lines
    )
    assert any(line.startswith(CREDS) for line in lines)


def test_list_filters_by_owner(state_file: Path) -> None:
    result = run("list", "--state", str(state_file), "--owner", "Kustomization/flux-system/other")
    assert isinstance(result.exception, StateError)
    result = run("list", "--state", str(state_file), "--owner", OWNER)
    assert len(result.output.splitlines()) == 3


@pytest.mark.parametrize("given", [WEB, "Deployment/apps/web"], ids=["inventory-id", "kind-ns-name"])
def test_show_object_prints_fields_and_manifest(state_file: Path, given: str) -> None:
    result = run("show", given, "--state", str(state_file))
    assert result.exit_code == 0, result.output
    assert f"id: {WEB}" in result.output and "digest: sha256:" in result.output
    assert "image: ghcr.io/example/web:1.0.0" in result.output


def test_show_secret_stays_masked_and_says_values_are_not_kept(state_file: Path) -> None:
    result = run("show", CREDS, "--state", str(state_file))
    assert "password: '***(aa11)'" in result.output or "password: ***(aa11)" in result.output
    assert "secret values: not kept (rollback re-renders them from source)" in result.output


def test_show_owner_lists_its_inventory(state_file: Path) -> None:
    result = run("show", OWNER, "--state", str(state_file))
    assert "source revision: main@sha1:abc" in result.output and WEB in result.output


def test_unknown_id_is_a_state_error(state_file: Path) -> None:
    result = run("show", "Deployment/apps/nope", "--state", str(state_file))
    assert isinstance(result.exception, StateError)
    assert "is not in state" in result.exception.one_line()


def test_rm_forgets_and_records_a_revision(state_file: Path) -> None:
    result = run("rm", WEB, "--state", str(state_file))
    assert result.exit_code == 0, result.output
    assert f"Removed {WEB}" in result.output and "Forgot 1 object(s) (state serial 3)" in result.output
    state = LocalBackend(state_file).read()
    assert state is not None and len(state.objects()) == 1 and state.operation == "state rm"
    assert len(state.history[-1].owners[next(iter(state.owners))].objects) == 2


def test_rm_of_an_owner_forgets_its_whole_inventory(state_file: Path) -> None:
    result = run("rm", OWNER, "--state", str(state_file))
    assert "Forgot 2 object(s)" in result.output
    state = LocalBackend(state_file).read()
    assert state is not None and state.owners == {}


def test_rm_while_locked_names_the_holder(state_file: Path) -> None:
    holder = LocalBackend(state_file)
    info = new_lock_info("apply")
    holder.lock(info)
    result = run("rm", WEB, "--state", str(state_file))
    assert isinstance(result.exception, LockHeld)
    assert info.who in result.exception.one_line() and info.id in result.exception.one_line()


def test_history_lists_current_first(state_file: Path) -> None:
    result = run("history", "--state", str(state_file))
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["SERIAL", "WRITTEN", "AT"]
    assert lines[1].startswith("2 (current)") and "second@host" in lines[1]
    assert lines[2].startswith("1 ") and "tester@host" in lines[2]


def test_pull_then_push_round_trips(state_file: Path, tmp_path: Path) -> None:
    pulled = run("pull", "--state", str(state_file), "--show-mask-key")
    assert state_from_json(pulled.output, "stdout") == LocalBackend(state_file).read()
    copy = tmp_path / "pulled.json"
    run("pull", "--state", str(state_file), "--show-mask-key", "--out", str(copy))
    assert copy.read_text() == pulled.output and (copy.stat().st_mode & 0o777) == 0o600
    result = run("push", str(copy), "--state", str(state_file))
    assert result.exit_code == 0, result.output
    assert "as serial 3" in result.output


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_pull_never_prints_the_mask_key_unless_asked(state_file: Path, output: str) -> None:
    """The maskKey is the HMAC key of Secret fingerprints: with it, guesses of a Secret
    value can be checked against the state's fingerprints offline."""
    stored = LocalBackend(state_file).read()
    assert stored is not None
    pulled = run("pull", "--state", str(state_file), "-o", output)
    assert pulled.exit_code == 0, pulled.output
    assert stored.mask_key not in pulled.output and REDACTED_MASK_KEY in pulled.output
    shown = run("pull", "--state", str(state_file), "-o", output, "--show-mask-key")
    assert stored.mask_key in shown.output


def test_a_pulled_state_pushes_back_with_the_stored_mask_key(state_file: Path, tmp_path: Path) -> None:
    stored = LocalBackend(state_file).read()
    assert stored is not None
    copy = tmp_path / "pulled.json"
    assert run("pull", "--state", str(state_file), "--out", str(copy)).exit_code == 0
    assert stored.mask_key not in copy.read_text()
    result = run("push", str(copy), "--state", str(state_file))
    assert result.exit_code == 0, result.output
    pushed = LocalBackend(state_file).read()
    assert pushed is not None and pushed.mask_key == stored.mask_key and pushed.serial == 3
    # to an empty backend the key cannot come from anywhere: one clear error
    result = run("push", str(copy), "--state", str(tmp_path / "new.state.json"))
    assert isinstance(result.exception, StateError) and "--show-mask-key" in result.exception.one_line()


def _push_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "push.json"
    path.write_text(text)
    return str(path)


def test_push_refuses_an_older_serial_unless_forced(state_file: Path, tmp_path: Path) -> None:
    current = LocalBackend(state_file).read()
    assert current is not None
    older = _push_file(tmp_path, state_to_json(replace(current, serial=1)))
    result = run("push", older, "--state", str(state_file))
    assert isinstance(result.exception, StateError) and "older than the stored serial 2" in str(result.exception)
    assert run("push", older, "--state", str(state_file), "--force").exit_code == 0


def test_push_refuses_another_lineage_unless_forced(state_file: Path, tmp_path: Path) -> None:
    other = _push_file(tmp_path, state_to_json(replace(new_state("c"), serial=9)))
    result = run("push", other, "--state", str(state_file))
    assert isinstance(result.exception, StateError) and "different states" in str(result.exception)
    stored = LocalBackend(state_file).read()
    assert stored is not None and stored.serial == 2
    assert run("push", other, "--state", str(state_file), "--force").exit_code == 0
    stored = LocalBackend(state_file).read()
    assert stored is not None and stored.lineage == json.loads(Path(other).read_text())["lineage"]


def test_push_refuses_same_serial_with_different_content(state_file: Path, tmp_path: Path) -> None:
    current = LocalBackend(state_file).read()
    assert current is not None
    edited = _push_file(tmp_path, state_to_json(replace(current, owners={})))
    result = run("push", edited, "--state", str(state_file))
    assert isinstance(result.exception, StateError) and "different content" in str(result.exception)


def test_force_unlock_asks_then_releases(state_file: Path) -> None:
    holder = LocalBackend(state_file)
    lock_id = holder.lock(new_lock_info("apply"))
    declined = invoke(force_unlock, lock_id, "--state", str(state_file), input="n\n")
    assert declined.exit_code == 1 and "locked by" in declined.output
    assert LocalBackend(state_file).lock_holder() is not None
    wrong = invoke(force_unlock, "nope", "--yes", "--state", str(state_file))
    assert isinstance(wrong.exception, StateError) and "does not match" in str(wrong.exception)
    done = invoke(force_unlock, lock_id, "--yes", "--state", str(state_file))
    assert done.exit_code == 0 and f"Lock {lock_id}" in done.output
    assert LocalBackend(state_file).lock_holder() is None


def test_config_file_picks_the_default_local_path_for_its_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fluxform.yaml").write_text("context: prod\nstate:\n  history: 1\n")
    (tmp_path / "apps").mkdir()
    monkeypatch.chdir(tmp_path / "apps")
    LocalBackend(tmp_path / ".fluxform" / "prod.state.json").write(small_state())
    assert WEB in run("list").output
    run("rm", WEB)
    run("rm", CREDS)
    state = LocalBackend(tmp_path / ".fluxform" / "prod.state.json").read()
    assert state is not None and len(state.history) == 1  # history limit from the config


def test_without_any_context_the_error_says_what_to_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    result = run("list")
    assert isinstance(result.exception, StateError) and "--context" in result.exception.one_line()


def test_state_file_and_kubernetes_backend_conflict(state_file: Path) -> None:
    result = run("list", "--state", str(state_file), "--backend", "kubernetes")
    assert result.exit_code == 2 and "--state is a local state file" in result.output


def test_kubernetes_backend_needs_a_namespace(state_file: Path) -> None:
    result = run("list", "--backend", "kubernetes", "--context", "prod")
    assert isinstance(result.exception, StateError) and "--backend-namespace" in result.exception.one_line()
