"""The one place that decides colour and progress: flags over NO_COLOR/FORCE_COLOR over the
terminal; progress on a terminal, in a log only when asked, never with -q."""

from __future__ import annotations

import io

import click
import pytest

from fluxform.cli import cli
from fluxform.commands.console import ConsoleSettings, colour_enabled, progress_mode


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("flag", "environ", "terminal", "expected"),
    [
        pytest.param(None, {}, True, True, id="terminal"),
        pytest.param(None, {}, False, False, id="pipe"),
        pytest.param(None, {"NO_COLOR": "1"}, True, False, id="NO_COLOR-on-a-terminal"),
        pytest.param(None, {"NO_COLOR": ""}, True, True, id="empty-NO_COLOR-is-unset"),
        pytest.param(None, {"FORCE_COLOR": "1"}, False, True, id="FORCE_COLOR-into-a-pipe"),
        pytest.param(None, {"FORCE_COLOR": "0"}, True, False, id="FORCE_COLOR=0"),
        pytest.param(None, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, True, False, id="NO_COLOR-wins"),
        pytest.param(None, {"TERM": "dumb"}, True, False, id="dumb-terminal"),
        pytest.param(True, {"NO_COLOR": "1"}, False, True, id="--color-wins"),
        pytest.param(False, {"FORCE_COLOR": "1"}, True, False, id="--no-color-wins"),
    ],
)
def test_colour_rules(flag: bool | None, environ: dict[str, str], terminal: bool, expected: bool) -> None:
    stream = Terminal() if terminal else io.StringIO()
    assert colour_enabled(stream, flag, environ) is expected


@pytest.mark.parametrize(
    ("settings", "environ", "terminal", "expected"),
    [
        pytest.param(ConsoleSettings(), {}, True, "bars", id="terminal"),
        pytest.param(ConsoleSettings(), {}, False, None, id="pipe"),
        pytest.param(ConsoleSettings(progress=True), {}, False, "lines", id="--progress-in-a-log"),
        pytest.param(ConsoleSettings(verbose=True), {}, False, "lines", id="-v-in-a-log"),
        pytest.param(ConsoleSettings(progress=True), {"GITHUB_ACTIONS": "true"}, False, "github", id="actions"),
        pytest.param(ConsoleSettings(), {"GITHUB_ACTIONS": "true"}, False, None, id="actions-without-progress"),
        pytest.param(ConsoleSettings(quiet=True, progress=True), {}, True, None, id="-q-silences"),
        pytest.param(ConsoleSettings(progress=False), {}, True, None, id="--no-progress"),
        pytest.param(ConsoleSettings(), {"TERM": "dumb"}, True, None, id="dumb-terminal"),
    ],
)
def test_progress_rules(settings: ConsoleSettings, environ: dict[str, str], terminal: bool, expected: str) -> None:
    stream = Terminal() if terminal else io.StringIO()
    assert progress_mode(settings, stream, environ) == expected


def _leaves(command: click.Command, path: str = "fluxform") -> list[tuple[str, click.Command]]:
    if isinstance(command, click.Group):  # as the CLI loads them (commands/lazy.py)
        ctx = click.Context(command)
        subs = {name: command.get_command(ctx, name) for name in command.list_commands(ctx)}
        return [leaf for name, sub in subs.items() if sub is not None for leaf in _leaves(sub, f"{path} {name}")]
    return [(path, command)]


def test_every_command_has_the_console_flags() -> None:
    leaves = _leaves(cli)
    assert len(leaves) > 20
    for path, command in leaves:
        flags = {flag for param in command.params for flag in (*param.opts, *param.secondary_opts)}
        assert {"--color", "--no-color", "--progress", "--no-progress", "-q", "-v"} <= flags, path
