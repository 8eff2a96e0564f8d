"""State load/save at fleet scale: 5,000 objects, 10 revisions of history.

    .venv/bin/python bench/bench_state.py [--objects 5000] [--revisions 10] [--changed-owners 10]

Prints times and sizes; never asserts on them. Each revision re-renders `--changed-owners`
of the 100 owners (50 objects each), as an apply touching a few teams does; `--changed-owners
100` is the worst case where every object changes every time.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fluxform.state.kube import DEFAULT_PART_BYTES
from fluxform.state.local import LocalBackend
from fluxform.state.model import next_revision, state_from_json, state_to_json
from tests.support.states import fleet_state


def timed(action: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median seconds of `repeat` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--revisions", type=int, default=10)
    parser.add_argument("--changed-owners", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    state = fleet_state(args.objects, args.revisions, per_owner=50, changed_owners=args.changed_owners)
    build = time.perf_counter() - start
    objects = len(state.objects()) + sum(len(o.objects) for r in state.history for o in r.owners.values())
    print(
        f"state: {len(state.objects())} objects, {len(state.history)} revisions of history "
        f"({objects} object records in all), {args.changed_owners}/100 owners change per revision"
    )
    print(f"build in memory:      {build * 1000:8.1f} ms")

    encode_s, text = timed(lambda: state_to_json(state), args.repeat)
    decode_s, decoded = timed(lambda: state_from_json(text, "bench"), args.repeat)
    assert decoded == state
    raw = text.encode()
    gzip_s, packed = timed(lambda: gzip.compress(raw, compresslevel=6, mtime=0), args.repeat)
    print(f"encode (to JSON):     {encode_s * 1000:8.1f} ms")
    print(f"decode (validated):   {decode_s * 1000:8.1f} ms")
    print(f"gzip (kube backend):  {gzip_s * 1000:8.1f} ms")
    print(
        f"size: JSON {len(raw) / 1e6:.2f} MB, gzip {len(packed) / 1e6:.2f} MB "
        f"-> {-(-len(packed) // DEFAULT_PART_BYTES)} Secret(s) in the kubernetes backend"
    )

    with tempfile.TemporaryDirectory() as tmp:
        backend = LocalBackend(Path(tmp) / "bench.state.json")
        stored = backend.write(state)
        write_s, stored = timed(
            lambda: backend.write(next_revision(backend.read() or stored, stored.owners, operation="apply", by="b")),
            args.repeat,
        )
        read_s, _ = timed(backend.read, args.repeat)
        print(f"local read:           {read_s * 1000:8.1f} ms")
        print(f"local read+write:     {write_s * 1000:8.1f} ms (atomic: temp, fsync, backup link, rename, dir fsync)")
        print(f"local file:           {backend.path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
