"""Start-up (issue 21, lever 4): `fluxform --help` and `fluxform version` import no command,
and the help they list without importing is the commands' own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from fluxform.cli import COMMANDS, cli
from fluxform.commands.lazy import LazyGroup
from tests.support.cli import REPO

#: What the cheap commands must not load: each costs tens to hundreds of milliseconds.
HEAVY = ("kubernetes", "deepdiff", "helm_python", "yaml", "urllib3", "cryptography", "pykustomize", "fluxform.planner")


def _modules_after(*args: str) -> list[str]:
    """sys.modules after `python -m fluxform ARGS` ran, from a fresh interpreter."""
    script = (
        "import json, sys, runpy\n"
        f"sys.argv = ['fluxform', *{list(args)!r}]\n"
        "try:\n"
        "    runpy.run_module('fluxform', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    return list(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [("--help",), ("version",)], ids=["help", "version"])
def test_cheap_commands_import_nothing_heavy(args: tuple[str, ...]) -> None:
    """`version` asks each tool once per installed copy and remembers the answer (the first
    run may import the Helm SDK to ask it): the run measured here is a later one."""
    _modules_after(*args)
    loaded = _modules_after(*args)
    heavy = [m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert heavy == []
    shared = {"fluxform.commands.lazy", "fluxform.commands.console", "fluxform.commands.examples"}  # flags, help
    assert not [m for m in loaded if m.startswith("fluxform.commands.") and m not in shared]


def test_an_offline_plan_loads_no_cluster_client_diff_library_or_http_client(tmp_path: Path) -> None:
    """What a plan without a cluster never uses it never imports: the Kubernetes client,
    deepdiff (live plans) and urllib3 (registries: only when a chart or artifact is fetched)."""
    fleet, keys = REPO / "fixtures" / "fleet" / "clusters" / "staging", REPO / "fixtures" / "keys"
    cache = ["--cache-dir", str(tmp_path / "builds"), "--chart-cache", str(tmp_path / "charts")]
    loaded = _modules_after("plan", str(fleet), "--keys-dir", str(keys), "--offline", "--partial", *cache)
    assert "fluxform.planner.workflow" in loaded  # it did plan
    assert [m for m in ("kubernetes", "deepdiff", "urllib3") if m in loaded] == []


def test_a_command_imports_its_module_when_it_runs() -> None:
    loaded = _modules_after("plan", "--help")
    assert "fluxform.commands.plan" in loaded
    assert "fluxform.commands.artifact" not in loaded and "helm_python" not in loaded


def _help(group: click.Group) -> str:
    ctx = click.Context(group, info_name="fluxform")
    formatter = ctx.make_formatter()
    group.format_commands(ctx, formatter)
    return formatter.getvalue()


def test_listed_help_is_each_commands_own() -> None:
    """The summaries registered in cli.COMMANDS, as `--help` shows them, are what the loaded
    commands would show (so a changed docstring cannot leave `--help` stale)."""
    own = [command for name, command in cli.commands.items() if name not in COMMANDS]  # loaded ones aside
    lazy = _help(LazyGroup(lazy=COMMANDS, commands=own))
    eager = click.Group(commands=[*own, *(c.load() for c in COMMANDS.values())])
    assert sorted(eager.commands) == sorted([*(str(c.name) for c in own), *COMMANDS])  # under their own names
    assert lazy == _help(eager)
