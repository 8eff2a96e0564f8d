"""Benchmark the schema check: its share of plan time, and jsonschema-rs against a baseline.

Plans each fleet twice with a warm build cache (the steady state, where validation weighs
most): without the check, then with it, and prints the check's own time (discovery's
`validate` timing) as a share of the plan with it. Then checks the same objects with
jsonschema (pure Python, the reference implementation) to show what the fast validator
buys. Fleets: the example fleet (fixtures/fleet, staging and production) and a generated
one (bench/fleetgen.py). Prints figures; asserts nothing.

    .venv/bin/python bench/bench_validate.py --clusters 1 --kustomizations 200
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jsonschema
import referencing

from bench.fleetgen import FleetSpec, generate_fleet
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions
from fluxform.planner.model import DesiredState
from fluxform.planner.partial import PartialPolicy
from fluxform.planner.plan import plan_offline
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.secrets import SecretOptions
from fluxform.planner.validation import ValidationOptions
from fluxform.planner.workflow import FleetRequest, rendered_fleet
from fluxform.sources.chart_cache import ChartCache
from fluxform.validate import KubeSchemas, SchemaValidator, crd_schemas
from fluxform.validate.kubeschemas import DEFINITIONS_URI
from fluxform.validate.validator import group_version

REPO = Path(__file__).resolve().parents[1]


def plan_once(clusters: Sequence[Path], request: FleetRequest) -> tuple[float, float, list[DesiredState]]:
    """(plan seconds, validate seconds, desired states) for every cluster."""
    total = validating = 0.0
    states = []
    for cluster in clusters:
        started = time.perf_counter()
        with rendered_fleet(cluster, request) as (desired, secrets):
            plan_offline(desired, None, secrets.masking(None), target=str(cluster))
        total += time.perf_counter() - started
        validating += desired.timings.get("validate", 0.0)
        states.append(desired)
    return total, validating, states


def pure_python_seconds(states: Sequence[DesiredState]) -> float:
    """The same check with jsonschema (pure Python): the baseline jsonschema-rs is measured against."""
    kube = KubeSchemas.load()
    definitions = referencing.Resource.from_contents(json.loads((kube.directory / "_definitions.json").read_text()))
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(DEFINITIONS_URI, definitions)
    started = time.perf_counter()
    for state in states:
        objects = [o for owner in state.owners for o in owner.objects]
        crds = crd_schemas(o.body for o in objects)
        compiled: dict[tuple[str, str, str], Any] = {}
        for obj in objects:
            group, version = group_version(obj.api_version)
            key = (group, version, obj.id.kind)
            if key not in compiled:
                schema = crds.get(key) or kube.schema_of(*key)
                compiled[key] = None if schema is None else jsonschema.Draft202012Validator(schema, registry=registry)
            if compiled[key] is not None:
                list(compiled[key].iter_errors(obj.body))
    return time.perf_counter() - started


def fast_seconds(states: Sequence[DesiredState]) -> float:
    kube = KubeSchemas.load()  # loaded once per run in a plan too; not what is compared here
    started = time.perf_counter()
    for state in states:
        objects = [o for owner in state.owners for o in owner.objects]
        validator = SchemaValidator(kube, crd_schemas(o.body for o in objects))
        for obj in objects:
            validator.check(obj.body)
    return time.perf_counter() - started


def measure(label: str, clusters: Sequence[Path], request: FleetRequest, repeats: int) -> None:
    """Plans without and with the check, alternating, `repeats` times each: the fastest of each."""
    plan_once(clusters, request)  # fills the build cache and the chart cache
    on_request = replace(request, validation=ValidationOptions(enabled=True))
    offs, ons = [], []
    for _ in range(repeats):
        offs.append(plan_once(clusters, request)[0])
        ons.append(plan_once(clusters, on_request))
    off = min(offs)
    on, validating, states = min(ons, key=lambda r: r[0])
    objects = sum(len(o.objects) for s in states for o in s.owners)
    owners = sum(len(s.owners) for s in states)
    print(f"{label}: {len(clusters)} cluster(s), {owners} owners, {objects} objects (warm build cache)")
    print(f"  plan without the check     {off:8.3f} s")
    print(f"  plan with the check        {on:8.3f} s")
    print(f"  the check itself           {validating:8.3f} s  = {validating / on:6.1%} of the plan with it")
    print(f"  plan with / without        {on / off:8.2f}x")
    fast, slow = fast_seconds(states), pure_python_seconds(states)
    print(f"  objects only, jsonschema-rs {fast:7.3f} s; jsonschema (pure Python) {slow:.3f} s: {slow / fast:.0f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the schema check's share of plan time.")
    parser.add_argument("--clusters", type=int, default=1)
    parser.add_argument("--kustomizations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="fluxform-bench-validate-"))
    try:
        helm = helm_hook(HelmOptions(offline=False, cache=ChartCache(root / "charts")))
        discover = DiscoverOptions(cache=BuildCache(root / "cache"), helm=helm)
        keys = SecretOptions(keys_dir=REPO / "fixtures/keys", use_env=False)
        request = FleetRequest(discover=discover, secrets=keys, partial=PartialPolicy(accept_all=True))
        example = [REPO / "fixtures/fleet/clusters/staging", REPO / "fixtures/fleet/clusters/production"]
        measure("example fleet (fixtures/fleet)", example, request, args.repeats)
        layout = generate_fleet(root / "fleet", FleetSpec(args.clusters, args.kustomizations, seed=1))
        generated = [root / "fleet" / p for p in layout.cluster_paths]
        measure(f"generated fleet ({args.kustomizations} apps per cluster)", generated, request, args.repeats)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
