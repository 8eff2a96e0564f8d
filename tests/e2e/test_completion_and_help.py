"""Completion, help and names as they are shown (issue 22, items 7 and 8): `fluxform
completion bash|zsh|fish` prints click's script, which completes Kustomization and
HelmRelease names for `build`; every command's --help ends with one example; `build`
takes the NAMESPACE/NAME `get` prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from fluxform.cli import cli
from fluxform.commands.examples import EXAMPLES
from tests.support.cli import FIXTURES, KEYS, run

BIN = Path(sys.executable).parent  # the venv's bin: fluxform, kubectl, sops
STAGING = FIXTURES / "fleet" / "clusters" / "staging"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_generated(shell: str) -> None:
    result = run("completion", shell)
    assert result.code == 0, result.err
    assert "_FLUXFORM_COMPLETE" in result.out and f"{shell}_complete" in result.out


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = run("completion", "tcsh")
    assert result.code == 1 and "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.err


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_kustomization_names_with_the_generated_script(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(FIXTURES / "fleet", fleet)
    script = (
        "source <(fluxform completion bash); COMP_WORDS=(fluxform build ks flux-system/infra-c); COMP_CWORD=3; "
        '_fluxform_completion fluxform; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(["bash", "-c", script], cwd=fleet, env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "flux-system/infra-configs",
        "flux-system/infra-controllers",
        "flux-system/infra-controllers-external",
    ]


def test_helm_release_names_complete_through_clicks_protocol(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet"
    shutil.copytree(FIXTURES / "fleet", fleet)
    env = {**_env(), "_FLUXFORM_COMPLETE": "bash_complete", "COMP_WORDS": "fluxform build hr plat", "COMP_CWORD": "3"}
    fluxform = BIN / "fluxform"
    result = subprocess.run([str(fluxform)], cwd=fleet, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["plain,platform/status-page"]


def _commands(command: click.Command, path: str = "") -> list[tuple[str, click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found += _commands(sub, f"{path} {name}".strip())
    return found


def test_every_commands_help_ends_with_one_example() -> None:
    commands = _commands(cli)
    missing = [path or "fluxform" for path, _ in commands if path not in EXAMPLES]
    assert not missing, f"add an example for {missing} in fluxform/commands/examples.py"
    for path, _ in commands:
        result = run(*path.split(), "--help")
        assert result.code == 0, result.err
        lines = result.out.rstrip("\n").splitlines()
        assert lines[-3].strip() == "Example:" and lines[-2] == "", path
        example = lines[-1].strip()
        assert example.startswith("fluxform ") and example == EXAMPLES[path]
        if path not in ("", "get", "build", "charts", "state", "artifact"):  # a group shows a subcommand
            assert example.removeprefix("fluxform ").startswith(path), path


def test_build_takes_the_names_get_prints() -> None:
    for kind in ("ks", "hr"):
        listed = run("get", kind, STAGING, "--keys-dir", KEYS, "-o", "json")
        names = [item["name_as_given"] for item in json.loads(listed.out)["items"]]
        assert names and all("/" in n for n in names)
        for name in names:
            built = run("build", kind, name, STAGING, "--keys-dir", KEYS)
            assert built.code == 0, f"build {kind} {name}: {built.err}"
            assert "kind:" in built.out
    refused = run("build", "hr", "apps/guestbook", STAGING, "-n", "web")
    assert refused.code == 1 and "apps/guestbook names namespace apps, --namespace says web" in refused.err
