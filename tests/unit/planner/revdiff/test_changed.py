"""Which owners changed files can affect: direct inputs, new files in read directories,
children of affected owners, lookups of what affected owners produce; and indexes of real renders."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.fleetgen import FleetSpec, generate_fleet
from fluxform.errors import FluxformWarning
from fluxform.objects import ObjectId
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions, discover
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.revdiff.changed import IndexRoots, IndexStore, OwnerInputs, RenderIndex, index_state
from fluxform.sources.chart_cache import ChartCache
from tests.support.ids import hr, ks

ROOT, APP, CHILD, READER, OTHER = ks("flux-system"), ks("app"), ks("child"), ks("reader"), ks("other")
SETTINGS = ("ConfigMap", "flux-system", "settings")


def web(app: str) -> ObjectId:
    return hr(f"{app}-web", app)


INDEX = RenderIndex(
    owners={
        ROOT: OwnerInputs(ROOT, None, frozenset({"clusters/a/app.yaml"}), frozenset({"clusters/a"})),
        APP: OwnerInputs(APP, ROOT, frozenset({"apps/app/k.yaml", "base/d.yaml"}), frozenset({"apps/app", "base"})),
        CHILD: OwnerInputs(CHILD, APP, frozenset({"apps/child/k.yaml"}), frozenset({"apps/child"})),
        READER: OwnerInputs(READER, ROOT, frozenset({"apps/r/k.yaml"}), frozenset({"apps/r"}), (SETTINGS,)),
        OTHER: OwnerInputs(OTHER, ROOT, frozenset({"apps/o/k.yaml"}), frozenset({"apps/o"})),
    },
    producers={SETTINGS: APP},
)


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ([], set()),
        (["README.md", "docs/x.md"], set()),
        (["apps/child/k.yaml"], {CHILD}),
        (["apps/o/new-file.yaml"], {OTHER}),  # a new file beside the inputs
        (["apps/o/sub/dir/new.yaml"], {OTHER}),  # a new file in a new directory below
        (["base/d.yaml"], {APP, CHILD, READER}),  # child via parent, reader via the lookup
        (["clusters/a/app.yaml"], {ROOT, APP, CHILD, READER, OTHER}),
        (["somewhere/.sourceignore"], {ROOT, APP, CHILD, READER, OTHER}),
    ],
    ids=["nothing", "outside", "leaf", "new-file", "new-dir", "shared-base", "root", "sourceignore"],
)
def test_affected_owners(changed: list[str], expected: set[ObjectId]) -> None:
    assert INDEX.affected(changed) == expected


def test_unknown_inputs_and_unproduced_lookups_count_as_affected_by_any_change() -> None:
    unknown = OwnerInputs(OTHER, None, None)
    missing = ("Secret", "flux-system", "optional-not-there")
    index = RenderIndex({OTHER: unknown, READER: OwnerInputs(READER, None, frozenset({"r"}), frozenset(), (missing,))})
    assert index.affected([]) == frozenset()
    assert index.affected(["anything"]) == {OTHER, READER}


def test_scope_sensitive_releases_follow_any_change() -> None:
    release = hr("web", "apps")
    owners = dict(INDEX.owners)
    owners[release] = OwnerInputs(release, OTHER, frozenset({"charts/c/Chart.yaml"}), frozenset(), (), True)
    index = RenderIndex(owners, INDEX.producers)
    assert index.affected(["apps/child/k.yaml"]) == {CHILD, release}  # a CRD may appear anywhere
    assert index.affected(["README.md"]) == set()


def test_json_round_trip_and_store(tmp_path: Path) -> None:
    assert RenderIndex.from_json(INDEX.to_json()) == INDEX
    store = IndexStore(tmp_path / "idx")
    key = store.key("tree", "clusters/a", {"strict": True})
    assert key != store.key("tree", "clusters/a", {"strict": False})
    assert store.load(key) is None
    store.save(key, INDEX)
    assert store.load(key) == INDEX
    assert IndexStore(None).load(key) is None


def _edited(text: str) -> str:
    """An owner told it reads nothing: a changed-only diff would then never render it."""
    data = json.loads(text)
    data["owners"][0]["files"] = []
    return json.dumps(data)


@pytest.mark.parametrize(
    "damage",
    [lambda raw: b"{broken", lambda raw: raw[: len(raw) // 2], lambda raw: _sealed_edit(raw)],
    ids=["not-an-entry", "truncated", "edited-owner-inputs"],
)
def test_store_discards_a_damaged_index_with_one_warning(tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    store = IndexStore(tmp_path / "idx")
    key = store.key("tree", "clusters/a", {})
    store.save(key, INDEX)
    path = tmp_path / "idx" / f"{key}.json"
    path.write_bytes(damage(path.read_bytes()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert store.load(key) is None
    messages = [str(w.message) for w in caught if w.category is FluxformWarning]
    assert len(messages) == 1 and messages[0].startswith(f"changed-only index entry {path} was discarded")
    assert not path.exists()


def _sealed_edit(raw: bytes) -> bytes:
    header, _, payload = raw.partition(b"\n")
    return header + b"\n" + _edited(payload.decode()).encode()


def test_index_of_a_real_render(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    generate_fleet(root / "fleet", FleetSpec(clusters=2, kustomizations=2, seed=1))
    helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(tmp_path / "charts")))
    options = DiscoverOptions(repo_root=root / "fleet", cache=BuildCache.disabled(), helm=helm)
    state = discover(root / "fleet/clusters/cluster-01", options)
    index = index_state(state, IndexRoots(root / "fleet", "fleet"))

    assert set(index.owners) == {ks("flux-system"), ks("app-000"), ks("app-001"), web("app-000"), web("app-001")}
    app = index.owners[ks("app-001")]
    assert app.parent == ks("flux-system")
    assert app.files is not None
    assert {
        "fleet/apps/app-001/overlays/cluster-01/kustomization.yaml",
        "fleet/apps/app-001/base/deployment.yaml",
        "fleet/apps/app-001/base/config/app.properties",
        "fleet/components/common/kustomization.yaml",
    } <= app.files
    assert not any("cluster-00" in f or "app-000" in f for f in app.files)
    assert app.lookups == (("ConfigMap", "flux-system", "cluster-settings"),)
    assert index.producers[("ConfigMap", "flux-system", "cluster-settings")] == ks("flux-system")
    root_files = index.owners[ks("flux-system")].files
    assert root_files is not None and "fleet/clusters/cluster-01/apps/app-000.yaml" in root_files

    release = index.owners[web("app-001")]
    assert release.parent == ks("app-001") and not release.scope_sensitive
    assert release.files is not None and "fleet/charts/fleet-app/templates/deployment.yaml" in release.files
    values = next(k for k in release.lookups if k[0] == "ConfigMap")
    assert values[:2] == ("ConfigMap", "app-001") and values[2].startswith("app-001-values-")
    assert set(release.lookups) == {values, ("GitRepository", "flux-system", "flux-system")}
    assert index.producers[values] == ks("app-001")

    assert index.affected(["fleet/apps/app-001/base/service.yaml"]) == {ks("app-001"), web("app-001")}
    assert index.affected(["fleet/apps/app-001/overlays/cluster-00/values.yaml"]) == set()
    assert index.affected(["fleet/charts/fleet-app/values.yaml"]) == {web("app-000"), web("app-001")}
    assert index.affected(["fleet/clusters/cluster-01/vars/cluster-settings.yaml"]) == set(index.owners)


def test_directories_holding_a_kustomization_file_are_read_flat() -> None:
    """kustomize reads what a kustomization names: a new file beside it may matter (another
    kustomization file name), one in a new subdirectory cannot; a directory Flux generates a
    kustomization for is read recursively."""
    owner = OwnerInputs(
        APP,
        None,
        frozenset({"apps/app/kustomization.yaml", "gen/cm.yaml"}),
        dirs=frozenset({"gen"}),
        flat_dirs=frozenset({"apps/app"}),
    )
    index = RenderIndex({APP: owner})
    assert index.affected(["apps/app/kustomization.yml"]) == {APP}
    assert index.affected(["apps/app/sub/new.yaml"]) == set()
    assert index.affected(["gen/deeper/new.yaml"]) == {APP}


def test_index_of_a_real_render_reads_overlays_flat(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    generate_fleet(root / "fleet", FleetSpec(clusters=2, kustomizations=2, seed=1))
    options = DiscoverOptions(repo_root=root / "fleet", cache=BuildCache.disabled())
    index = index_state(discover(root / "fleet/clusters/cluster-01", options), IndexRoots(root / "fleet", "fleet"))

    app = index.owners[ks("app-001")]
    assert "fleet/apps/app-001/overlays/cluster-01" in app.flat_dirs
    assert "fleet/apps/app-001/overlays/cluster-01" not in app.dirs
    assert "fleet/clusters/cluster-01" in index.owners[ks("flux-system")].dirs  # generated: recursive
    assert index.affected(["fleet/apps/app-001/overlays/cluster-01/notes/readme.yaml"]) == set()


def test_a_chart_is_read_whole_even_below_its_template_directories(tmp_path: Path) -> None:
    """Helm loads every file of a chart: a new template in a new subdirectory changes the
    render, although the directory it lands in was only a parent of read files."""
    root = tmp_path / "repo"
    generate_fleet(root / "fleet", FleetSpec(clusters=2, kustomizations=2, seed=1))
    helm = helm_hook(HelmOptions(offline=True, cache=ChartCache(tmp_path / "charts")))
    options = DiscoverOptions(repo_root=root / "fleet", cache=BuildCache.disabled(), helm=helm)
    index = index_state(discover(root / "fleet/clusters/cluster-01", options), IndexRoots(root / "fleet", "fleet"))

    releases = {web("app-000"), web("app-001")}
    assert index.affected(["fleet/charts/fleet-app/templates/extra/new.yaml"]) == releases
    assert index.affected(["fleet/charts/fleet-app/files/deep/new.txt"]) == releases
    assert not any(d.startswith("fleet/charts/fleet-app") for d in index.owners[web("app-000")].flat_dirs)
