"""`--source`: NAME=DIR maps a source to a directory, NAME=REF to an OCI artifact (an oci://
reference, a layout tar or a layout directory), REF alone is the fleet itself (once)."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from fluxform.commands.options import fleet_options_with_artifacts
from fluxform.planner.options import FleetOptions

SEEN: list[FleetOptions] = []


@click.command()
@fleet_options_with_artifacts
def _probe(fleet: FleetOptions) -> None:
    SEEN.append(fleet)


def _parse(*args: str) -> FleetOptions:
    SEEN.clear()
    result = CliRunner().invoke(_probe, list(args))
    assert result.exit_code == 0, result.output
    return SEEN[0]


def test_directories_artifacts_and_the_fleet(tmp_path: Path) -> None:
    layout_dir = tmp_path / "layout"
    layout_dir.mkdir()
    (layout_dir / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    tar = tmp_path / "apps.tar"
    tar.write_bytes(b"")
    fleet = _parse(
        "--source", "oci://reg:5000/fleet:v1",
        "--source", f"platform={tmp_path}",
        "--source", "apps/apps-src=oci://reg:5000/apps@sha256:" + "a" * 64,
        "--source", f"OCIRepository/apps/tarred={tar}",
        "--source", f"layout={layout_dir}",
        "--plain-http", "--max-artifact-size", "1MiB",
    )  # fmt: skip
    assert fleet.artifact == "oci://reg:5000/fleet:v1"
    assert fleet.sources == {"platform": tmp_path}
    assert fleet.artifact_sources == {
        "apps/apps-src": "oci://reg:5000/apps@sha256:" + "a" * 64,
        "OCIRepository/apps/tarred": str(tar),
        "layout": str(layout_dir),
    }
    assert fleet.artifact_access.plain_http and fleet.artifact_access.max_size == 1 << 20
    assert _parse("--source", str(tar)).artifact == str(tar)  # a path alone: the fleet's layout


def test_one_fleet_artifact_only() -> None:
    result = CliRunner().invoke(_probe, ["--source", "oci://reg/a:v1", "--source", "oci://reg/b:v1"])
    assert result.exit_code == 2 and "the fleet already comes from 'oci://reg/a:v1'" in result.output


def test_commands_that_do_not_open_artifacts_refuse_them(tmp_path: Path) -> None:
    from tests.support.cli import run

    result = run("get", "ks", tmp_path, "--source", "oci://reg:5000/fleet:v1")
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1
    assert "'oci://reg:5000/fleet:v1' is an OCI artifact: plan and apply read those" in result.err
