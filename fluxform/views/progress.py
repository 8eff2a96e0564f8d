"""Progress as people see it, on stderr: bars on a terminal, plain lines in a log, GitHub
Actions log groups in a workflow. Each renderer implements `fluxform.progress.Progress`;
the CLI picks one (`commands/console.py`) and hands it to the library, which never prints.

Bars (rich) appear only once a run has taken a second, so quick commands do not flicker,
and vanish when it ends; `verbose` prints one line per item with its time above them. Lines
and groups write a summary per stage (count, failures, elapsed); in a GitHub Actions group
every item is listed (the group is folded in the log). Nothing here writes to stdout.

    with terminal_progress(stream=sys.stderr, verbose=False, colour=True) as progress:
        plan_fleet(path, options.request(progress=progress))
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from fluxform.progress import Progress

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

__all__ = ["LineProgress", "TerminalProgress", "terminal_progress"]

#: seconds a run must last before bars appear (a shorter one would only flicker)
BAR_DELAY = 1.0


@dataclass
class _StageState:
    label: str
    started: float = field(default_factory=time.perf_counter)
    total: int = 0
    done: int = 0
    failed: int = 0
    opened: bool = False  # its first line was written (lines and groups)

    def summary(self) -> str:
        elapsed = time.perf_counter() - self.started
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.label}: {self.done} done{failed} in {elapsed:.1f}s"


def _item_line(item: str, seconds: float, failed: bool, timings: bool) -> str:
    time_text = f" {seconds:.2f}s" if timings else ""
    return f"  {item}{time_text}{' (failed)' if failed else ''}"


class LineProgress:
    """Plain lines for a log (stderr not a terminal, `--progress` given): a summary when a
    stage ends (count, failures, elapsed); `verbose` adds a line when it starts and one per
    item with its time. With `github`, each stage is a `::group::` listing its items (groups
    cannot nest: a stage starting while another is open closes that group first). A stage
    that had no work writes nothing."""

    def __init__(self, stream: TextIO, *, verbose: bool = False, github: bool = False) -> None:
        self.stream, self.verbose, self.github = stream, verbose, github
        self._stages: dict[str, _StageState] = {}
        self._group: str | None = None
        self._lock = threading.Lock()

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def begin(self, stage: str, label: str) -> None:
        with self._lock:
            self._stages[stage] = _StageState(label)

    def _open(self, stage: str, state: _StageState) -> None:
        """Write the stage's opening line once it has work (a stage with none stays silent)."""
        if state.opened:
            return
        state.opened = True
        if self.github:
            self._close_group()
            self._write(f"::group::fluxform: {state.label}")
            self._group = stage
        elif self.verbose:
            self._write(f"fluxform: {state.label}...")

    def expect(self, stage: str, count: int) -> None:
        with self._lock:
            state = self._stages.get(stage)
            if state is not None and count > 0:
                state.total += count
                self._open(stage, state)

    def advance(self, stage: str, item: str, *, seconds: float = 0.0, failed: bool = False) -> None:
        with self._lock:
            state = self._stages.get(stage)
            if state is not None:
                self._open(stage, state)
                state.done += 1
                state.failed += failed
            if self.verbose or (self.github and self._group == stage):
                self._write(_item_line(item, seconds, failed, self.verbose))

    def note(self, stage: str, text: str) -> None:
        with self._lock:
            if self.verbose:
                self._write(f"  {text}")

    def end(self, stage: str) -> None:
        with self._lock:
            state = self._stages.pop(stage, None)
            if state is None or not state.opened:
                return
            self._write(f"fluxform: {state.summary()}")
            if self._group == stage:
                self._close_group()

    def close(self) -> None:
        with self._lock:
            for state in self._stages.values():
                if state.opened:
                    self._write(f"fluxform: {state.summary()} (stopped)")
            self._stages.clear()
            self._close_group()

    def _close_group(self) -> None:
        if self._group is not None:
            self._write("::endgroup::")
            self._group = None


class TerminalProgress:
    """rich bars on stderr: one row per stage with its count (done/discovered so far) and
    elapsed time; shown from `BAR_DELAY` seconds on, removed when the run ends."""

    def __init__(self, stream: TextIO, *, verbose: bool = False, colour: bool = True, delay: float = BAR_DELAY) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        console = Console(file=stream, force_terminal=True, no_color=not colour, highlight=False)
        self.verbose = verbose
        self.bars: RichProgress = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, tuple[TaskID, _StageState]] = {}
        self._lock = threading.Lock()
        self._started = False
        self._closed = False
        self._timer = threading.Timer(delay, self._show)
        self._timer.daemon = True
        self._timer.start()

    def _show(self) -> None:
        with self._lock:
            if not self._closed and not self._started:
                self.bars.start()
                self._started = True

    def begin(self, stage: str, label: str) -> None:
        with self._lock:
            task = self.bars.add_task(label, total=None)
            self._tasks[stage] = (task, _StageState(label))

    def expect(self, stage: str, count: int) -> None:
        with self._lock:
            if stage in self._tasks:
                task, state = self._tasks[stage]
                state.total += count
                self.bars.update(task, total=state.total)

    def advance(self, stage: str, item: str, *, seconds: float = 0.0, failed: bool = False) -> None:
        with self._lock:
            if stage in self._tasks:
                task, state = self._tasks[stage]
                state.done += 1
                state.failed += failed
                self.bars.update(task, advance=1)
            if self.verbose:
                self.bars.console.print(_item_line(item, seconds, failed, True), markup=False)

    def note(self, stage: str, text: str) -> None:
        with self._lock:
            if stage in self._tasks:
                task, state = self._tasks[stage]
                self.bars.update(task, description=f"{state.label}: {text}")

    def end(self, stage: str) -> None:
        with self._lock:
            found = self._tasks.pop(stage, None)
            if found is None:
                return
            task, state = found
            self.bars.update(task, total=max(state.total, state.done), completed=state.done)
            self.bars.stop_task(task)
            if self.verbose:
                self.bars.console.print(state.summary(), markup=False)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._closed = True
            if self._started:
                self.bars.stop()


@contextlib.contextmanager
def terminal_progress(
    stream: TextIO, *, mode: str, verbose: bool = False, colour: bool = False, delay: float = BAR_DELAY
) -> Iterator[Progress]:
    """The renderer for `mode` ("bars", "lines" or "github"), closed (bars removed, open
    groups ended) however the block leaves; bars appear after `delay` seconds."""
    renderer: TerminalProgress | LineProgress
    if mode == "bars":
        renderer = TerminalProgress(stream, verbose=verbose, colour=colour, delay=delay)
    else:
        renderer = LineProgress(stream, verbose=verbose, github=mode == "github")
    try:
        yield renderer
    finally:
        renderer.close()
