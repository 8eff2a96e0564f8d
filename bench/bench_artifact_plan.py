"""An offline plan of the example fleet from its directory, from a registry tag and from an
exported OCI layout tar, in the same run: what opening an artifact (resolve the tag, fetch and
verify the blob, unpack it safely, filter it) costs beside rendering the fleet.

    .venv/bin/python bench/bench_artifact_plan.py [--rounds 5]

Needs Debian's docker-registry (started on 127.0.0.1 in a temp dir, stopped at the end).
Rounds interleave the three kinds, so machine load hits each alike; each plan runs in this
process through the CLI's main() with the build cache off (every plan renders everything).
Prints medians and ratios against the directory plan; never asserts on them.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.cli import FIXTURES, KEYS, run
from tests.support.registry import start_registry


def _timed(step: Callable[[], None]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def _plan(*args: str | Path) -> None:
    result = run("plan", *args, "--keys-dir", KEYS, "--no-cache", "-q")
    if result.code != 0:
        raise SystemExit(f"plan failed: {result.err}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    binary = shutil.which("docker-registry")
    if binary is None:
        raise SystemExit("docker-registry is not installed (apt-get install docker-registry)")
    with tempfile.TemporaryDirectory(prefix="fluxform-bench-oci-") as tmp:
        work = Path(tmp)
        (work / "registry").mkdir()
        registry = start_registry(work / "registry", binary)
        try:
            fleet = work / "fleet"
            shutil.copytree(FIXTURES / "fleet", fleet)
            url = f"oci://{registry.host}/bench/fleet:v1"
            flags = ("--source", "https://example.com/fleet.git", "--revision", "main@sha1:" + "a" * 40)
            pushed = run("artifact", "push", fleet, url, "--plain-http", *flags, "--reproducible")
            exported = run("artifact", "export", url, work / "fleet.tar", "--plain-http")
            if pushed.code or exported.code:
                raise SystemExit(f"push/export failed: {pushed.err}{exported.err}")
            kinds: dict[str, Callable[[], None]] = {
                "directory": lambda: _plan(fleet / "clusters" / "staging"),
                "registry tag": lambda: _plan("clusters/staging", "--source", url, "--plain-http"),
                "layout tar": lambda: _plan("clusters/staging", "--source", str(work / "fleet.tar")),
            }
            for step in kinds.values():
                step()  # warm: imports, Helm SDK
            times: dict[str, list[float]] = {kind: [] for kind in kinds}
            for _ in range(args.rounds):
                for kind, step in kinds.items():
                    times[kind].append(_timed(step))
        finally:
            registry.stop()
    base = statistics.median(times["directory"])
    print(f"offline plan of fixtures/fleet clusters/staging, {args.rounds} rounds, build cache off")
    for kind, values in times.items():
        median = statistics.median(values)
        print(f"  {kind:13} median {median:6.3f} s   {median / base:5.2f}x the directory plan")


if __name__ == "__main__":
    main()
