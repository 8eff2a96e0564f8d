"""The plan file: round trip, field-by-field validation, versioning, masking by construction,
owners not planned."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from fluxform.decrypt.mask import LAST_APPLIED_ANNOTATION, Masker
from fluxform.errors import PlanError
from fluxform.objects import ObjectId, SourceLocation
from fluxform.planner.model import Cause, DesiredObject, DesiredState, Owner, OwnerStatus
from fluxform.planner.plan import Action, plan_offline
from fluxform.planner.planfile import (
    PlanFile,
    PlannedChange,
    plan_file_from,
    plan_file_json,
    read_plan_file,
    write_plan_file,
)
from fluxform.state.model import canonical_digest
from fluxform.views.plan import render_markdown, render_text
from tests.support.desired import no_mask
from tests.support.planfiles import plan_files

KS = ObjectId("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization")
HR = ObjectId("apps", "web", "helm.toolkit.fluxcd.io", "HelmRelease")
MASKER = Masker(b"0123456789abcdef0123456789abcdef")
PLAINTEXT = "hunter2-plaintext"


def _secret(value: str = PLAINTEXT) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "apps"},
        "stringData": {"pw": value},
    }


def _config(name: str = "settings") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "apps"},
        "data": {"a": "1"},
    }


def _mask(manifest: Mapping[str, Any], paths: Any = ()) -> dict[str, Any]:
    return MASKER.mask_manifest(manifest, sensitive_paths=paths)


def _owner(oid: ObjectId, *bodies: Mapping[str, Any], status: OwnerStatus = OwnerStatus.BUILT, **extra: Any) -> Owner:
    objects = tuple(DesiredObject(ObjectId.from_manifest(b), "v1", b, oid) for b in bodies)
    return Owner(oid, "Kustomization", status, "GitRepository/flux-system/flux-system", "./apps", None, (), True,
                 SourceLocation("clusters/dev/apps.yaml"), objects, **extra)  # fmt: skip


def _plan_file(*owners: Owner) -> PlanFile:
    return plan_file_from(plan_offline(DesiredState(owners, "sha256:abc"), None, _mask, target="clusters/dev"))


def _written(plan_file: PlanFile, tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    write_plan_file(path, plan_file)
    return path


# ----- round trip -------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan_files())
def test_reading_what_was_written_gives_the_same_plan_file(plan_file: PlanFile) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = _written(plan_file, Path(tmp))
        assert read_plan_file(path) == plan_file
        assert plan_file_json(read_plan_file(path)) == path.read_text()  # byte-stable


def test_written_file_is_private_and_replaces_atomically(tmp_path: Path) -> None:
    path = _written(_plan_file(_owner(KS, _config())), tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temp file left behind


def test_desired_manifest_and_its_digest_are_what_apply_needs(tmp_path: Path) -> None:
    plan_file = _plan_file(_owner(KS, _config(), _secret()))
    config, secret = plan_file.changes
    assert config.desired == _config() and config.digest == canonical_digest(_config())
    assert secret.desired is not None and secret.desired["stringData"]["pw"].startswith("***(hmac:")
    assert secret.digest == canonical_digest(_mask(_secret()))
    assert (config.live_resource_version, config.adopted) == (None, False)  # offline: the cluster was not read
    assert read_plan_file(_written(plan_file, tmp_path)).changes[1].digest == secret.digest


# ----- masked by construction -------------------------------------------------------------------


def test_a_planned_change_cannot_hold_a_plaintext_secret() -> None:
    with pytest.raises(PlanError, match=re.escape("unmasked Secret value in a plan (desired: stringData.pw)")):
        PlannedChange(ObjectId("apps", "db", "", "Secret"), "v1", KS, Action.CREATE, "", None, None, _secret(), None,
                      False)  # fmt: skip
    kubectl = {**_mask(_secret()), "metadata": {"annotations": {LAST_APPLIED_ANNOTATION: PLAINTEXT}}}
    with pytest.raises(PlanError, match=re.escape("(before: metadata.annotations[kubectl.kubernetes.io/")):
        PlannedChange(ObjectId("apps", "db", "", "Secret"), "v1", KS, Action.UPDATE, "", kubectl, None, None, None,
                      False)  # fmt: skip


def test_a_plan_of_unmasked_manifests_cannot_become_a_plan_file() -> None:
    plan = plan_offline(DesiredState((_owner(KS, _secret()),), "sha256:abc"), None, no_mask, target="t")
    with pytest.raises(PlanError) as caught:
        plan_file_from(plan)
    assert caught.value.one_line().startswith("Secret/apps/db: refusing to hold an unmasked Secret value")


class _Tripwire(Mapping[str, Any]):
    """A desired object's body that fails the test when anything reads it."""

    def __getitem__(self, key: str) -> Any:
        raise AssertionError("the plan file read a desired object's body")

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the plan file read a desired object's body")

    def __len__(self) -> int:
        raise AssertionError("the plan file read a desired object's body")


def test_the_plan_file_never_reads_a_desired_objects_body() -> None:
    plan = plan_offline(DesiredState((_owner(KS, _config()),), "sha256:abc"), None, _mask, target="t")
    secret_id = ObjectId("apps", "db", "", "Secret")
    trapped = Owner(KS, "Kustomization", OwnerStatus.BUILT, "", "", None, (), True, None,
                    (DesiredObject(secret_id, "v1", _Tripwire(), KS),))  # fmt: skip
    plan_file = plan_file_from(replace(plan, owners=(trapped,)))
    assert plan_file.owners[0].objects == 1
    assert PLAINTEXT not in plan_file_json(plan_file)


# ----- owners not planned -----------------------------------------------------------------------


def test_owners_neither_built_nor_suspended_are_not_planned_with_their_reason_and_file() -> None:
    plan_file = _plan_file(
        _owner(KS, _config()),
        _owner(HR, status=OwnerStatus.NOT_PLANNED, reason="cannot fetch chart", cause=Cause.CHART),
        _owner(ObjectId("flux-system", "off", KS.group, "Kustomization"), status=OwnerStatus.SUSPENDED),
    )
    ((not_planned),) = plan_file.not_planned
    assert (not_planned.owner, not_planned.reason, not_planned.file) == (
        HR, "cannot fetch chart", "clusters/dev/apps.yaml"
    )  # fmt: skip
    assert plan_file.counts()["not_planned"] == 1
    text = render_text(plan_file)
    assert "  not planned (clusters/dev/apps.yaml): cannot fetch chart; its objects are left as they are" in text
    assert text.endswith("Plan: 1 to add, 0 to change, 0 to destroy; 1 owner not planned.\n")
    markdown = render_markdown(plan_file)
    assert "**Plan: 1 to add, 0 to change, 0 to destroy; 1 owner not planned.**" in markdown
    listed = "- `HelmRelease/apps/web` (`clusters/dev/apps.yaml`): cannot fetch chart"
    assert listed in markdown and markdown.index(listed) < markdown.index("| Owner |")  # above the rest, not folded
    assert "<details><summary>Not planned" not in markdown


# ----- reading: every field checked -------------------------------------------------------------


def _valid() -> dict[str, Any]:
    owner = _owner(KS, _config(), _secret())
    data: dict[str, Any] = json.loads(plan_file_json(_plan_file(owner)))
    return data


def _set(*path: str | int, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return edit


def _drop(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]

    return edit


BAD_FILES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("old-major", _set("format_version", value="1.0"), "format 1.0 is not supported (this fluxform reads 2.2)"),
    ("new-major", _set("format_version", value="3.0"), "plan file format 3.0 is not supported"),
    ("unknown-action", _set("changes", 0, "action", value="explode"), "changes[0].action: 'explode' is not one of"),
    ("bad-owner-id", _set("changes", 0, "owner_id", value="apps"), "changes[0].owner_id: not a Flux inventory id"),
    ("serial-as-text", _set("state", "serial", value="7"), 'state.serial: expected an integer, got "7"'),
    ("wait-as-text", _set("owners", 0, "spec", "wait", value="yes"), "owners[0].spec.wait: expected true or false"),
    ("missing-field", _drop("changes", 0, "api_version"), "changes[0].api_version: missing"),
    ("manifest-not-object", _set("changes", 0, "desired", value=[1]), "changes[0].desired: expected an object"),
    ("edited-desired", _set("changes", 0, "desired", "data", value={"a": "2"}), "changes[0].digest: does not match"),
    ("plaintext-secret", _set("changes", 1, "after", "stringData", value={"pw": PLAINTEXT}),
     "changes[1]: Secret/apps/db: refusing to hold an unmasked Secret value in a plan (after: stringData.pw)"),
    ("live-without-target", _set("mode", value="live"), "mode: a live plan needs `live` (the cluster it read)"),
    ("sources-not-list", _set("settings", "sources", value={}), "settings.sources: expected a list"),
    ("owners-not-list", _set("owners", value=None), "owners: expected a list"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "message"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_a_bad_field_is_one_plan_error_naming_the_file_and_field(
    edit: Callable[[dict[str, Any]], None], message: str, tmp_path: Path
) -> None:
    data = _valid()
    edit(data)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError) as caught:
        read_plan_file(path)
    line = caught.value.one_line()
    assert line.startswith(f"{path}: ") and message in line, line
    assert PLAINTEXT not in line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "plan file is not valid JSON"),
        ('{"hello": 1}', "not a fluxform plan file"),
        ("[]", "not a fluxform"),
    ],
    ids=["not-json", "other-json", "a-list"],
)
def test_files_that_are_not_plans_are_refused(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(text)
    with pytest.raises(PlanError, match=message):
        read_plan_file(path)


def test_a_newer_minor_version_is_read_and_its_new_keys_ignored(tmp_path: Path) -> None:
    """A minor version only adds fields: this reader ignores keys it does not know, and a
    field an older writer lacked takes its default."""
    data = _valid()
    expected = read_plan_file(_written_text(tmp_path / "a.json", data))
    data["format_version"] = "2.9"
    data["rollback_hint"] = {"anything": True}
    data["changes"][0]["future_field"] = 1
    del data["settings"]["chart_cache"]  # has a default
    read = read_plan_file(_written_text(tmp_path / "b.json", data))
    assert read.changes == expected.changes and read.settings.chart_cache == ""
    assert read.format_version == "2.9"


def _written_text(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path
