"""One output convention (issue 22, item 1): `-o/--output` on plan, show, diff, get and state,
every `-o json` parses (and `get`'s matches docs/get.schema.json), YAML carries the same data,
`--format` still works but is hidden, tables fit 100 columns unless `-o wide`, and colour
follows --color/--no-color, NO_COLOR and FORCE_COLOR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from fluxform import yamlio
from tests.e2e.state_from_plan import record_plan
from tests.support.cli import FIXTURES, KEYS, Result, run
from tests.support.gitrepo import TestRepo
from tests.support.keys import mask_key_of

STAGING = FIXTURES / "fleet" / "clusters" / "staging"
PRODUCTION = FIXTURES / "fleet" / "clusters" / "production"
GET_SCHEMA: dict[str, Any] = json.loads((FIXTURES.parent / "docs" / "get.schema.json").read_text())
#: production's upstream charts cannot be fetched here: their releases are listed as not planned
PRODUCTION_ARGS = ("--keys-dir", KEYS, "--missing-charts", "warn", "--offline")


def _ok(result: Result) -> Result:
    assert result.code == 0, result.err
    return result


@pytest.mark.parametrize("kind", ["ks", "hr", "sources"])
def test_get_json_matches_its_schema_and_yaml_is_the_same_document(kind: str, tmp_path: Path) -> None:
    args = (*PRODUCTION_ARGS, "--chart-cache", tmp_path / "charts")
    as_json = json.loads(_ok(run("get", kind, PRODUCTION, *args, "-o", "json")).out)
    as_yaml = yamlio.load(_ok(run("get", kind, PRODUCTION, *args, "--output", "yaml")).out)

    jsonschema.validate(as_json, GET_SCHEMA, cls=jsonschema.Draft202012Validator)
    assert as_yaml == as_json and as_json["items"]
    if kind == "hr":  # not planned releases are listed, with their reason and file
        skipped = [i for i in as_json["items"] if i["status"] == "not planned"]
        assert skipped and all(i["reason"] and i["objects"] is None for i in skipped)


def test_get_tables_fit_100_columns_and_wide_shows_every_column(tmp_path: Path) -> None:
    args = (*PRODUCTION_ARGS, "--chart-cache", tmp_path / "charts")
    for kind in ("ks", "hr", "sources"):
        default = _ok(run("get", kind, PRODUCTION, *args)).out
        wide = _ok(run("get", kind, PRODUCTION, *args, "-o", "wide")).out
        assert max(len(line) for line in default.splitlines()) <= 100, default
        assert len(wide.splitlines()) == len(default.splitlines())
        assert [line.split()[0] for line in wide.splitlines()] == [line.split()[0] for line in default.splitlines()]
    wide_hr = _ok(run("get", "hr", PRODUCTION, *args, "-o", "wide")).out
    assert max(len(line) for line in wide_hr.splitlines()) > 100  # the long reasons, uncut
    assert "RELEASE" in wide_hr.splitlines()[0] and "VALUES" in wide_hr.splitlines()[0]


def test_plan_and_show_print_json_yaml_and_markdown_and_keep_format_as_a_hidden_alias(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    text = _ok(run("plan", STAGING, "--keys-dir", KEYS, "--out", plan_file))
    as_json = json.loads(_ok(run("show", plan_file, "-o", "json")).out)
    as_yaml = yamlio.load(_ok(run("show", plan_file, "-o", "yaml")).out)
    old_flag = json.loads(_ok(run("plan", STAGING, "--keys-dir", KEYS, "--format", "json")).out)

    assert as_json == json.loads(plan_file.read_text()) == as_yaml == old_flag
    assert _ok(run("show", plan_file, "-o", "markdown")).out.startswith("### fluxform plan")
    assert _ok(run("show", plan_file)).out == text.out
    helps = [_ok(run(*command, "--help")).out for command in (("plan",), ("show",), ("diff",), ("get", "ks"))]
    assert all("-o, --output" in h and "--format" not in h for h in helps)


def test_diff_prints_json_and_yaml(tmp_path: Path) -> None:
    repo = TestRepo.create(tmp_path / "repo")
    repo.copy_in(FIXTURES / "minimal")
    base = repo.commit("base")
    repo.replace("apps/hello/deployment.yaml", "replicas: 1", "replicas: 3")
    repo.commit("scale")
    args = ("diff", repo.path / "clusters/dev", "--base", base, "--no-step-summary")
    as_json = json.loads(_ok(run(*args, "-o", "json")).out)
    as_yaml = yamlio.load(_ok(run(*args, "-o", "yaml")).out)
    assert as_json == as_yaml and as_json["kind"] == "fluxform-diff"
    assert as_json["summary"]["change"] == 1


def test_state_commands_print_json_and_yaml(tmp_path: Path) -> None:
    plan_file, state_file = tmp_path / "plan.json", tmp_path / "state.json"
    _ok(run("plan", STAGING, "--keys-dir", KEYS, "--out", plan_file))
    record_plan(plan_file, state_file, mask_key=mask_key_of(KEYS))
    state = ("--state", state_file)

    listed = json.loads(_ok(run("state", "list", *state, "-o", "json")).out)
    assert listed["kind"] == "fluxform-state-objects" and listed["serial"] == 1
    first = listed["items"][0]
    assert set(first) == {"id", "api_version", "digest", "owner"}
    assert yamlio.load(_ok(run("state", "list", *state, "-o", "yaml")).out) == listed
    wide = _ok(run("state", "list", *state, "-o", "wide")).out
    assert wide.splitlines()[0].split()[-3:] == ["DIGEST", "APPLIED", "AT"]

    shown = json.loads(_ok(run("state", "show", first["id"], *state, "-o", "json")).out)
    assert shown["kind"] == "object" and shown["manifest"]["metadata"]["name"] == first["id"].split("_")[1]
    owner = json.loads(_ok(run("state", "show", first["owner"], *state, "-o", "json")).out)
    assert owner["kind"] == "owner" and first["id"] in [o["id"] for o in owner["objects"]]

    history = json.loads(_ok(run("state", "history", *state, "-o", "json")).out)
    assert history["items"][0]["current"] is True and history["items"][0]["serial"] == 1
    pulled = json.loads(_ok(run("state", "pull", *state)).out)
    assert yamlio.load(_ok(run("state", "pull", *state, "-o", "yaml")).out) == pulled
    assert pulled["lineage"] == listed["lineage"]
    old_style = _ok(run("state", "pull", *state, "-o", tmp_path / "pulled.json"))  # -o FILE, as before -o was a format
    assert json.loads((tmp_path / "pulled.json").read_text()) == pulled
    assert old_style.err == f"Warning: state pull -o FILE is deprecated: use --out {tmp_path / 'pulled.json'}\n"


@pytest.mark.parametrize(
    ("environ", "flags", "coloured"),
    [
        pytest.param({}, (), False, id="not-a-terminal"),
        pytest.param({"NO_COLOR": "1"}, (), False, id="NO_COLOR"),
        pytest.param({"FORCE_COLOR": "1"}, (), True, id="FORCE_COLOR"),
        pytest.param({"FORCE_COLOR": "1", "NO_COLOR": "1"}, (), False, id="NO_COLOR-over-FORCE_COLOR"),
        pytest.param({"FORCE_COLOR": "1"}, ("--no-color",), False, id="--no-color-over-FORCE_COLOR"),
        pytest.param({"NO_COLOR": "1"}, ("--color",), True, id="--color-over-NO_COLOR"),
    ],
)
def test_colour_only_when_asked_or_on_a_terminal(
    environ: dict[str, str], flags: tuple[str, ...], coloured: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    result = _ok(run("plan", STAGING, "--keys-dir", KEYS, *flags))
    assert ("\x1b[" in result.out) is coloured
    assert "\x1b[" not in result.err
