"""The one place that decides colour and progress, and the flags every command has for them.

`install(cli)` gives every command `--color/--no-color`, `--progress/--no-progress`,
`-q/--quiet` and `-v/--verbose`; commands then ask `stdout_colour()` whether to colour what
they print and open `progress()` around long work. The rules:

- Colour: `--color`/`--no-color` win; else `NO_COLOR` (any non-empty value) turns it off,
  `FORCE_COLOR` (non-empty, not `0`/`false`) on (no-color.org, force-color.org); else
  only on a terminal (and not `TERM=dumb`).
- Progress goes to stderr, never stdout: bars on a terminal; off when stderr is not a
  terminal unless `--progress` (or `-v`), then plain lines, or `::group::` log groups when
  `GITHUB_ACTIONS=true`. `-q` silences it; `-v` adds per-item timings. Bars appear once a
  run took a second (`FLUXFORM_PROGRESS_DELAY` seconds), so quick commands do not flicker.

    with progress() as observer:
        plan_fleet(path, fleet.request(progress=observer))
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

import click

from fluxform.progress import NO_PROGRESS, Progress

__all__ = [
    "DELAY_ENV",
    "ConsoleSettings",
    "colour_enabled",
    "current",
    "install",
    "progress",
    "progress_mode",
    "stdout_colour",
]


@dataclass(frozen=True)
class ConsoleSettings:
    colour: bool | None = None  # --color/--no-color; None: decided from the environment and the stream
    progress: bool | None = None  # --progress/--no-progress; None: on a terminal
    quiet: bool = False  # -q: no progress at all
    verbose: bool = False  # -v: per-item timings (and progress lines off a terminal)


DELAY_ENV = "FLUXFORM_PROGRESS_DELAY"  # seconds before progress bars appear (default 1)
_CURRENT: contextvars.ContextVar[ConsoleSettings] = contextvars.ContextVar("fluxform_console")
_PARAMS = ("console_colour", "console_progress", "console_quiet", "console_verbose")


def current() -> ConsoleSettings:
    """The settings of the command running (defaults outside one)."""
    return _CURRENT.get(ConsoleSettings())


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def colour_enabled(stream: TextIO, flag: bool | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to colour what goes to `stream` (see the module docstring for the rules)."""
    if flag is not None:
        return flag
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    force = env.get("FORCE_COLOR")
    if force:
        return force.lower() not in ("0", "false")
    return env.get("TERM") != "dumb" and _is_terminal(stream)


def stdout_colour() -> bool:
    return colour_enabled(sys.stdout, current().colour)


def progress_mode(settings: ConsoleSettings, stream: TextIO, environ: Mapping[str, str] | None = None) -> str | None:
    """The progress renderer for `settings` writing to `stream`: "bars", "lines", "github",
    or None (no progress)."""
    env = os.environ if environ is None else environ
    if settings.quiet or settings.progress is False:
        return None
    terminal = _is_terminal(stream) and env.get("TERM") != "dumb"
    if not (terminal or settings.progress or settings.verbose):
        return None
    if env.get("GITHUB_ACTIONS") == "true":
        return "github"
    return "bars" if terminal else "lines"


@contextlib.contextmanager
def progress() -> Iterator[Progress]:
    """The observer to hand the library for this command (NO_PROGRESS when it is off)."""
    settings = current()
    stream = sys.stderr
    mode = progress_mode(settings, stream)
    if mode is None:
        yield NO_PROGRESS
        return
    from fluxform.views.progress import terminal_progress

    colour = colour_enabled(stream, settings.colour)
    with terminal_progress(stream, mode=mode, verbose=settings.verbose, colour=colour, delay=_bar_delay()) as observer:
        yield observer


def _bar_delay() -> float:
    """Seconds before bars appear: `FLUXFORM_PROGRESS_DELAY`, else the renderer's default."""
    from fluxform.views.progress import BAR_DELAY

    try:
        return max(0.0, float(os.environ.get(DELAY_ENV, BAR_DELAY)))
    except ValueError:
        return BAR_DELAY


def _options() -> list[click.Option]:
    return [
        click.Option(
            ["--color/--no-color", "console_colour"],
            default=None,
            help="Colour output (default: on a terminal; NO_COLOR and FORCE_COLOR are honoured).",
        ),
        click.Option(
            ["--progress/--no-progress", "console_progress"],
            default=None,
            help="Progress on stderr (default: when stderr is a terminal).",
        ),
        click.Option(["-q", "--quiet", "console_quiet"], is_flag=True, help="No progress output."),
        click.Option(["-v", "--verbose", "console_verbose"], is_flag=True, help="Progress with per-item timings."),
    ]


def _with_settings(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def command(*args: Any, **kwargs: Any) -> Any:
        colour, progress_flag, quiet, verbose = (kwargs.pop(name) for name in _PARAMS)
        token = _CURRENT.set(ConsoleSettings(colour, progress_flag, quiet, verbose))
        try:
            return callback(*args, **kwargs)
        finally:
            _CURRENT.reset(token)

    return command


def install(command: click.Command) -> None:
    """Give `command` and every command below it the console flags (once)."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            install(sub)
        return
    if command.callback is None or any(p.name == _PARAMS[0] for p in command.params):
        return
    command.params.extend(_options())
    command.callback = _with_settings(command.callback)
