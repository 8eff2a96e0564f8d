"""A click group that imports a command's module only when that command runs.

`fluxform --help` and `fluxform version` would otherwise import every command and through
them the planner, the Helm SDK's wrapper, the OCI client... (~0.4 s before printing a line).
Each command is registered by where it lives and its one-line help, which `--help` lists
without importing anything (tests/unit/commands/test_lazy.py checks each line against the
command's own help).

    cli = LazyGroup(lazy={"plan": LazyCommand("fluxform.commands.plan", "plan", "Show what applying ...")})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click

__all__ = ["LazyCommand", "LazyGroup"]


@dataclass(frozen=True)
class LazyCommand:
    module: str  # e.g. "fluxform.commands.plan"
    attribute: str  # the click command in it
    summary: str  # the first sentence of its help, as `--help` lists it (a test compares)

    def load(self) -> click.Command:
        command = getattr(importlib.import_module(self.module), self.attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.module}.{self.attribute} is not a click command")
        return command


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})
        #: what every loaded command gets before it runs (e.g. the shared console flags)
        self.prepare: Callable[[click.Command, str], None] = lambda command, name: None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            command = self.lazy[cmd_name].load()
            self.prepare(command, cmd_name)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def help_line(self, ctx: click.Context, name: str, limit: int) -> str | None:
        """The help line `--help` shows for `name` (None: hidden), importing nothing lazy."""
        if name in self.lazy and name not in self.commands:
            return click.Command(name, help=self.lazy[name].summary).get_short_help_str(limit)
        command = self.get_command(ctx, name)
        return None if command is None or command.hidden else command.get_short_help_str(limit)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click.Group lists them, the lazy ones' help taken from their registration."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, text) for name in names if (text := self.help_line(ctx, name, limit)) is not None]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
