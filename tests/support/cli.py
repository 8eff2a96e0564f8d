"""Run the fluxform CLI in-process: `run` exactly as the console script does (main() with its
error handling and exit codes), capturing stdout and stderr; `invoke` one click command,
keeping the exception it raised for the test to inspect.

result = run("plan", FIXTURES / "fleet/clusters/staging", "--keys-dir", KEYS)
listed = invoke(state_group, "list", "--state", str(state_file))
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import click
from click.testing import CliRunner
from click.testing import Result as ClickResult

from fluxform.cli import main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"
KEYS = FIXTURES / "keys"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def run(*args: str | Path) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return Result(code, out.getvalue(), err.getvalue())


def invoke(command: click.Command, *args: str, input: str | None = None) -> ClickResult:
    """`command` run by click's CliRunner: its exception (a FluxformError, say) stays on the
    result instead of becoming main()'s one-line error."""
    return CliRunner().invoke(command, list(args), input=input, catch_exceptions=True)
