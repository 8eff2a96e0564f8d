"""The progress Protocol: the null observer satisfies it, and the helpers report as documented."""

from __future__ import annotations

import pytest

from fluxform.progress import NO_PROGRESS, Progress, Stage, stage, timed


class Recorder:
    """A Progress that keeps every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def begin(self, stage: str, label: str) -> None:
        self.calls.append(("begin", stage, label))

    def expect(self, stage: str, count: int) -> None:
        self.calls.append(("expect", stage, count))

    def advance(self, stage: str, item: str, *, seconds: float = 0.0, failed: bool = False) -> None:
        self.calls.append(("advance", stage, item, failed))

    def note(self, stage: str, text: str) -> None:
        self.calls.append(("note", stage, text))

    def end(self, stage: str) -> None:
        self.calls.append(("end", stage))


def test_the_null_observer_and_a_recorder_are_progress_observers() -> None:
    assert isinstance(NO_PROGRESS, Progress)
    assert isinstance(Recorder(), Progress)


def test_stage_begins_expects_and_ends_even_when_the_block_fails() -> None:
    recorder = Recorder()
    with pytest.raises(RuntimeError), stage(recorder, Stage.BUILD, "Building", total=3):
        raise RuntimeError("boom")
    assert recorder.calls == [("begin", "build", "Building"), ("expect", "build", 3), ("end", "build")]


def test_timed_marks_an_item_failed_when_its_block_raises() -> None:
    recorder = Recorder()
    with timed(recorder, Stage.RENDER, "HelmRelease/apps/web"):
        pass
    with pytest.raises(ValueError), timed(recorder, Stage.RENDER, "HelmRelease/apps/db"):
        raise ValueError("bad")
    assert recorder.calls == [
        ("advance", "render", "HelmRelease/apps/web", False),
        ("advance", "render", "HelmRelease/apps/db", True),
    ]
