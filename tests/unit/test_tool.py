"""run_tool: every child bounded (time, heap, output), in its own process group, killed
whole when it overruns or the run is stopped (issue 15, items 2 and 4)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxform import cancellation
from fluxform.cancellation import Cancelled
from fluxform.errors import ToolError, ToolLimitExceeded
from fluxform.limits import current_limits
from fluxform.tool import kill_children, run_tool


@pytest.fixture
def limits_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    current_limits.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    current_limits.cache_clear()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_stdin_and_stdout_round_trip_a_large_payload() -> None:
    payload = os.urandom(3 << 20)
    assert run_tool(["cat"], tool="cat", stdin=payload).stdout == payload


def test_non_zero_exit_carries_stderr_tail() -> None:
    with pytest.raises(ToolError) as caught:
        run_tool(["sh", "-c", "echo oops >&2; exit 3"], tool="sh")
    assert caught.value.exit_code == 3 and caught.value.stderr_tail == "oops"


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    script = f"sleep 60 & echo $! > {pid_file}; wait"
    started = time.monotonic()
    with pytest.raises(ToolLimitExceeded) as caught:
        run_tool(["sh", "-c", script], tool="sh", timeout=0.5)
    assert time.monotonic() - started < 5
    assert "time limit of 0.5 s" in caught.value.one_line()
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_children_get_the_heap_and_cpu_limits(limits_env: pytest.MonkeyPatch) -> None:
    limits_env.setenv("FLUXFORM_TOOL_MEMORY_MB", "300")
    script = "sleep 0.3; ulimit -d; ulimit -t"  # the limits are set on Linux just after the start
    out = run_tool(["sh", "-c", script], tool="sh", timeout=20).stdout.decode().split()
    assert int(out[0]) == 300 * 1024  # KiB
    assert 20 <= int(out[1]) <= 20 * (os.cpu_count() or 1) + 10


def test_output_over_the_cap_stops_the_tool(limits_env: pytest.MonkeyPatch) -> None:
    limits_env.setenv("FLUXFORM_TOOL_OUTPUT_MB", "1")
    with pytest.raises(ToolLimitExceeded) as caught:
        run_tool(["yes"], tool="yes", timeout=30)
    assert "output limit of 1 MiB" in caught.value.one_line()


def _alias_bomb(depth: int) -> str:
    """A document whose aliases expand to 9**(depth+1) strings ("billion laughs")."""
    lines = ["apiVersion: example.com/v1", "kind: Bomb", "metadata:", "  name: bomb", "spec:"]
    lines.append("  l0: &l0 [" + ",".join(['"lol"'] * 9) + "]")
    lines += [f"  l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


def test_kustomize_running_out_of_its_heap_is_named_as_the_memory_limit(
    limits_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """kustomize expands an alias bomb until Go's runtime cannot allocate under RLIMIT_DATA."""
    limits_env.setenv("FLUXFORM_TOOL_MEMORY_MB", "300")
    (tmp_path / "kustomization.yaml").write_text("resources: [bomb.yaml]\n")
    (tmp_path / "bomb.yaml").write_text(_alias_bomb(9))
    from fluxform.kustomize.binary import kustomize_tool

    started = time.monotonic()
    with pytest.raises(ToolLimitExceeded) as caught:
        run_tool([*kustomize_tool().argv, str(tmp_path)], tool="kustomize", timeout=60)
    assert "memory limit of 300 MiB" in caught.value.one_line()
    assert time.monotonic() - started < 30


def test_kill_children_stops_a_running_tool_at_once() -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_tool(["sleep", "60"], tool="sleep", timeout=60)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    started = time.monotonic()
    thread.start()
    time.sleep(0.3)
    kill_children()
    thread.join(10)
    assert time.monotonic() - started < 5
    assert len(errors) == 1 and isinstance(errors[0], ToolError)
    assert "killed by SIGKILL" in errors[0].one_line()


def test_after_a_signal_no_tool_starts_but_cleanup_tools_still_run() -> None:
    with cancellation.stop_on_signals():
        with pytest.raises(Cancelled):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler raises here
        with pytest.raises(Cancelled):
            run_tool(["true"], tool="true")
        assert run_tool(["echo", "ok"], tool="echo", cleanup=True).stdout == b"ok\n"
    assert run_tool(["true"], tool="true").exit_code == 0  # the next run starts afresh


def test_a_signal_inside_a_shielded_block_is_raised_when_it_ends() -> None:
    finished = []
    with cancellation.stop_on_signals(), pytest.raises(Cancelled) as caught, cancellation.shielded():
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.2)
        finished.append(True)
    assert finished == [True]
    assert caught.value.signal_name == "SIGHUP"
