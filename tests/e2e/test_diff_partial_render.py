"""Changed-only diffs with a kept base index render only the affected owners (every other
owner stands in from the index) and grow that selection, or fall back to rendering the whole
cluster, when the head render reads or looks up more than the base index said. Whatever path
a case takes, its output must be the full diff's.

Every case runs the changed-only diff twice (the first run writes the base index, the second
renders both sides from it) and compares both with `--full`; each also checks the change
itself, and which path (grew, fell back) the second run took, so none can pass by accident.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fluxform.errors import Diagnostic
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.discover import DiscoverOptions, DiscoveryContext, HelmHook
from fluxform.planner.model import Owner
from fluxform.planner.releases import HelmOptions, helm_hook
from fluxform.planner.revdiff.workflow import DiffRequest, diff_revisions
from fluxform.planner.workflow import FleetRequest
from fluxform.sources.chart_cache import ChartCache
from fluxform.views.revdiff import diff_to_dict
from tests.support.cli import run
from tests.support.gitrepo import TestRepo
from tests.support.trees import FLUX_SYSTEM_SOURCE, flux_kustomization

CLUSTER = "clusters/dev"


def _configmap(name: str, namespace: str, **data: str) -> str:
    lines = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in data.items())
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n{lines}"


def _kustomization(*resources: str) -> str:
    return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" + "".join(
        f"  - {r}\n" for r in resources
    )


_GOTK_SOURCE = FLUX_SYSTEM_SOURCE + "---\n"

#: The cluster (no kustomization.yaml: Flux generates one) builds flux-system, `infra` and
#: `tenants`; `infra` produces the ConfigMap flux-system/settings; `tenants` (a directory
#: without kustomization.yaml) defines `app-a`. A change under tenants/ or apps/a affects
#: `tenants`/`app-a` only, so `infra` stands in for itself from the index.
FLEET = {
    f"{CLUSTER}/flux-system/gotk-sync.yaml": _GOTK_SOURCE + flux_kustomization("flux-system", f"./{CLUSTER}"),
    f"{CLUSTER}/flux-system/kustomization.yaml": _kustomization("gotk-sync.yaml"),
    f"{CLUSTER}/infra.yaml": flux_kustomization("infra", "./infra"),
    f"{CLUSTER}/tenants.yaml": flux_kustomization("tenants", "./tenants/dev"),
    "infra/kustomization.yaml": _kustomization("settings.yaml"),
    "infra/settings.yaml": _configmap("settings", "flux-system", greeting="hello-from-infra"),
    "tenants/dev/app-a.yaml": flux_kustomization("app-a", "./apps/a"),
    "apps/a/kustomization.yaml": _kustomization("namespace.yaml", "config.yaml"),
    "apps/a/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n",
    "apps/a/config.yaml": _configmap("a-config", "a", greeting="${greeting:=default}"),
}

APP_A = "Kustomization/flux-system/app-a"
TENANTS = "Kustomization/flux-system/tenants"
INFRA = "Kustomization/flux-system/infra"


class _CountingHook:
    """The real Helm hook, counting the renders that reached it (one per finished discovery)."""

    def __init__(self, inner: HelmHook) -> None:
        self.inner, self.calls = inner, 0

    def __call__(self, ctx: DiscoveryContext) -> tuple[list[Owner], list[Diagnostic]]:
        self.calls += 1
        return self.inner(ctx)


@dataclass(frozen=True)
class _Outcome:
    data: dict[str, Any]
    timings: Mapping[str, float]
    renders: int  # discoveries that finished (failed ones do not reach the Helm hook)

    @property
    def fallbacks(self) -> int:
        return int(self.timings.get("fallback", 0))

    def owner(self, owner_id: str, cluster: str = CLUSTER) -> dict[str, Any]:
        found = next(c for c in self.data["clusters"] if c["path"] == cluster)
        return next(o for o in found["owners"] if o["id"] == owner_id)

    def changes(self, owner_id: str) -> list[tuple[str, str, str, str]]:
        owner = self.owner(owner_id)
        return [(c["action"], c["kind"], c["namespace"], c["name"]) for c in owner["changes"]]


def _repo(tmp_path: Path, extra: Mapping[str, str] = {}) -> tuple[TestRepo, str]:
    repo = TestRepo.create(tmp_path / "repo")
    for rel, text in {**FLEET, **extra}.items():
        repo.write(rel, text)
    return repo, repo.commit("fleet")


def _diff(repo: TestRepo, base: str, tmp_path: Path, *, full: bool) -> _Outcome:
    hook = _CountingHook(helm_hook(HelmOptions(offline=True, cache=ChartCache(tmp_path / "charts"))))
    fleet = FleetRequest(DiscoverOptions(cache=BuildCache(tmp_path / "builds"), jobs=2, helm=hook))
    request = DiffRequest(
        (repo.path / CLUSTER,),
        base,
        fleet=fleet,
        changed_only=not full,
        index_dir=tmp_path / ("index-full" if full else "index"),  # a full diff keeps indexes too
    )
    result = diff_revisions(request)
    return _Outcome(diff_to_dict(result), dict(result.timings), hook.calls)


def _without_mode(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "mode"}


def _agreeing(repo: TestRepo, base: str, tmp_path: Path) -> tuple[_Outcome, _Outcome]:
    """The full diff and the second (index-using) changed-only diff, after checking that
    both changed-only runs equal the full one."""
    cold = _diff(repo, base, tmp_path, full=False)  # renders base fully and keeps its index
    warm = _diff(repo, base, tmp_path, full=False)  # both sides from that index
    full = _diff(repo, base, tmp_path, full=True)
    assert "index" in cold.timings and "index" not in warm.timings  # the second run used the kept index
    assert _without_mode(cold.data) == _without_mode(full.data)
    assert _without_mode(warm.data) == _without_mode(full.data)
    return full, warm


def _took(warm: _Outcome, path: str) -> None:
    """The path the index-using run took: "direct" (one render per side), "grew" (a side
    rendered again with more owners or files, no fallback), "wrote all" (a selected render
    failed and succeeded again with every file written) or "fell back" (a whole-cluster
    render after a selected one failed with every file written)."""
    if warm.fallbacks:
        seen = "fell back"
    elif warm.timings.get("write-all"):
        seen = "wrote all"
    else:
        seen = "grew" if warm.timings.get("grow") else "direct"
        if seen == "direct":
            assert warm.renders == 2, warm.renders  # one finished render per side
    assert seen == path, (warm.renders, dict(warm.timings))
    assert "check" in warm.timings  # a selected render finished and was checked (the base side's at least)


# -- 1. a lookup of an object a stand-in produces -----------------------------------------------


@pytest.mark.parametrize("optional", [False, True], ids=["required", "optional"])
def test_substitute_from_a_configmap_a_stand_in_produces(tmp_path: Path, optional: bool) -> None:
    repo, base = _repo(tmp_path)
    source = "  postBuild:\n    substituteFrom:\n      - kind: ConfigMap\n        name: settings\n"
    source += f"        optional: {str(optional).lower()}\n"
    repo.write("tenants/dev/app-a.yaml", flux_kustomization("app-a", "./apps/a", source))
    repo.commit("app-a: variables from infra's settings")

    full, warm = _agreeing(repo, base, tmp_path)

    assert full.changes(APP_A) == [("update", "ConfigMap", "a", "a-config")]
    (change,) = full.owner(APP_A)["changes"]
    assert change["before"]["data"]["greeting"] == "${greeting:=default}"
    assert change["after"]["data"]["greeting"] == "hello-from-infra"
    assert full.changes(TENANTS) == [("update", "Kustomization", "flux-system", "app-a")]
    _took(warm, "grew")  # optional: the value is missing at first; required: the render fails


# -- 2. an overlay starts reading a directory nobody read at base --------------------------------

SHARED = {
    "shared/base/kustomization.yaml": _kustomization("extra.yaml"),
    "shared/base/extra.yaml": _configmap("shared-extra", "a", origin="shared"),
    "shared/component/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        "commonAnnotations:\n  example.com/component: shared\n"
    ),
}


@pytest.mark.parametrize("field", ["resources", "components"])
def test_overlay_starts_reading_an_unchanged_directory(tmp_path: Path, field: str) -> None:
    repo, base = _repo(tmp_path, SHARED)
    text = repo.read("apps/a/kustomization.yaml")
    if field == "resources":
        repo.write("apps/a/kustomization.yaml", text + "  - ../../shared/base\n")
    else:
        repo.write("apps/a/kustomization.yaml", text + "components:\n  - ../../shared/component\n")
    repo.commit(f"app-a: {field} from shared/")

    full, warm = _agreeing(repo, base, tmp_path)

    if field == "resources":
        assert full.changes(APP_A) == [("create", "ConfigMap", "a", "shared-extra")]
    else:
        assert full.changes(APP_A) == [("update", "Namespace", "", "a"), ("update", "ConfigMap", "a", "a-config")]
        for change in full.owner(APP_A)["changes"]:
            assert change["after"]["metadata"]["annotations"] == {"example.com/component": "shared"}
    _took(warm, "wrote all")  # kustomize cannot build a directory missing from the checkout


# -- 3. a generated kustomization lists files the first pass did not write ----------------------

GENERATED = {
    "shared/gen/top.yaml": _configmap("gen-top", "a", n="1"),
    "shared/gen/sub/cm.yaml": _configmap("gen-sub", "a", n="2"),
    # app-a reads only shared/gen/sub at base: its files are written, shared/gen/top.yaml not
    "apps/a/kustomization.yaml": _kustomization("namespace.yaml", "config.yaml", "../../shared/gen/sub/cm.yaml"),
}


def test_generated_kustomization_sees_every_file_below_its_path(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path, GENERATED)
    repo.write("tenants/dev/app-a.yaml", flux_kustomization("app-a", "./shared/gen"))  # no kustomization.yaml there
    repo.write("shared/gen/more/new.yaml", _configmap("gen-new", "a", n="3"))  # a new file in a new subdirectory
    repo.commit("app-a: build shared/gen as Flux generates it")

    full, warm = _agreeing(repo, base, tmp_path)

    assert full.changes(APP_A) == [
        ("create", "ConfigMap", "a", "gen-new"),
        ("create", "ConfigMap", "a", "gen-top"),
        ("delete", "Namespace", "", "a"),
        ("delete", "ConfigMap", "a", "a-config"),
    ]
    assert full.owner(APP_A)["unchanged"] == 1  # gen-sub, read on both sides
    _took(warm, "grew")  # the first head pass saw shared/gen/sub only; shared/gen was written after it


# -- 4. a lookup nobody satisfies ----------------------------------------------------------------


def _cli(repo: TestRepo, base: str, cache: Path, *extra: str) -> tuple[int, str, str]:
    result = run("diff", repo.path / CLUSTER, "--base", base, "--format", "json", "--cache-dir", cache, *extra)
    return result.code, result.out, result.err


def _same_failure(repo: TestRepo, base: str, tmp_path: Path) -> str:
    """The one-line error every mode fails with (changed-only twice, then --full)."""
    cache = tmp_path / "cli-cache"
    cold = _cli(repo, base, cache)
    assert any((cache / "diff-index").iterdir())  # the base rendered and its index was kept
    warm = _cli(repo, base, cache)
    full = _cli(repo, base, cache, "--full")
    assert cold == warm == full, (cold, warm, full)
    code, out, err = full
    assert code == 1 and out == "" and err.startswith("Error: ") and err.count("\n") == 1, full
    return err


def test_required_substitute_from_nobody_produces_fails_as_full(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path)
    source = "  postBuild:\n    substituteFrom:\n      - kind: ConfigMap\n        name: nowhere\n"
    repo.write("tenants/dev/app-a.yaml", flux_kustomization("app-a", "./apps/a", source))
    repo.commit("app-a: variables from a ConfigMap nobody makes")

    err = _same_failure(repo, base, tmp_path)

    assert "substitute from 'ConfigMap/nowhere'" in err and "flux-system/app-a" in err, err


# -- 5. CustomResourceDefinitions decide the scope of objects other owners render ---------------

WIDGET_CHART = {
    "charts/widgets/Chart.yaml": "apiVersion: v2\nname: widgets\nversion: 0.1.0\n",
    "charts/widgets/templates/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\n",
    "infra/kustomization.yaml": _kustomization("settings.yaml", "release.yaml"),
    "infra/release.yaml": """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: widgets
  namespace: flux-system
spec:
  interval: 10m
  chart:
    spec:
      chart: ./charts/widgets
      sourceRef:
        kind: GitRepository
        name: flux-system
        namespace: flux-system
""",
}


def _crd(scope: str) -> str:
    return f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names:
    kind: Widget
    plural: widgets
    singular: widget
  scope: {scope}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
"""


def test_cluster_scoped_crd_moves_a_stand_in_releases_widget_out_of_its_namespace(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path, WIDGET_CHART)
    repo.write("apps/a/crd.yaml", _crd("Cluster"))
    repo.write("apps/a/kustomization.yaml", _kustomization("namespace.yaml", "config.yaml", "crd.yaml"))
    repo.commit("app-a: the Widget CRD, cluster-scoped")

    full, warm = _agreeing(repo, base, tmp_path)

    crd = ("create", "CustomResourceDefinition", "", "widgets.example.com")
    assert full.changes(APP_A) == [crd]
    release = "HelmRelease/flux-system/widgets"
    assert full.changes(release) == [("create", "Widget", "", "w1"), ("delete", "Widget", "flux-system", "w1")]
    _took(warm, "grew")  # the CRD scopes changed at head: the release scoping its kinds by them renders too


WIDGETS_KUSTOMIZATION = {
    f"{CLUSTER}/widgets.yaml": flux_kustomization("widgets", "./widgets"),
    "widgets/kustomization.yaml": _kustomization("widget.yaml"),
    "widgets/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w2\n",
    "apps/a/crd.yaml": _crd("Cluster"),
    "apps/a/kustomization.yaml": _kustomization("namespace.yaml", "config.yaml", "crd.yaml"),
}


def test_crd_change_fails_a_stand_ins_namespaceless_widget_as_full(tmp_path: Path) -> None:
    """`widgets` is unaffected (stands in): only the namespace check over its object ids can
    see that its namespaceless Widget became invalid; then the selected render fails and the
    whole-cluster render reports it, as --full does."""
    repo, base = _repo(tmp_path, WIDGETS_KUSTOMIZATION)
    repo.write("apps/a/crd.yaml", _crd("Namespaced"))
    repo.commit("app-a: Widgets are no longer cluster-scoped")

    err = _same_failure(repo, base, tmp_path)

    assert "Kustomization/flux-system/widgets (clusters/dev/widgets.yaml): not planned: Widget/w2 namespace" in err


def test_crd_removed_leaves_a_stand_ins_widget_scoped_as_it_is_written(tmp_path: Path) -> None:
    """Without its CRD in the fleet, a Widget takes its scope from the object (no namespace:
    cluster-scoped), with one warning per kind, the same whether `widgets` stands in or not."""
    repo, base = _repo(tmp_path, WIDGETS_KUSTOMIZATION)
    repo.git("rm", "-q", "apps/a/crd.yaml")
    repo.write("apps/a/kustomization.yaml", _kustomization("namespace.yaml", "config.yaml"))
    repo.commit("app-a: the Widget CRD is installed out of band now")

    full, _ = _agreeing(repo, base, tmp_path)

    assert full.changes(APP_A) == [("delete", "CustomResourceDefinition", "", "widgets.example.com")]
    (cluster,) = full.data["clusters"]
    (warning,) = [d["summary"] for d in cluster["diagnostics"] if "Widget.example.com" in d["summary"]]
    assert "no CustomResourceDefinition in the fleet" in warning and "1 object(s) without a namespace" in warning


def test_crd_moving_between_owners_keeps_a_stand_ins_widgets_cluster_scoped(tmp_path: Path) -> None:
    repo, base = _repo(tmp_path, WIDGETS_KUSTOMIZATION)
    repo.write("apps/a/kustomization.yaml", _kustomization("namespace.yaml", "config.yaml"))
    repo.git("mv", "apps/a/crd.yaml", "infra/crd.yaml")
    repo.write("infra/kustomization.yaml", _kustomization("settings.yaml", "crd.yaml"))
    repo.commit("the Widget CRD moves from app-a to infra")

    full, warm = _agreeing(repo, base, tmp_path)

    crd = ("CustomResourceDefinition", "", "widgets.example.com")
    assert full.changes(APP_A) == [("delete", *crd)]
    assert full.changes(INFRA) == [("create", *crd)]
    _took(warm, "direct")


# -- 6. a Flux Kustomization added at head ---------------------------------------------------------


@pytest.mark.parametrize("where", ["unread-directory", "inside-a-written-directory"])
def test_new_kustomization_under_an_unchanged_parent_shows_as_added(tmp_path: Path, where: str) -> None:
    path = "apps/c" if where == "unread-directory" else "apps/a/extra"
    repo, base = _repo(tmp_path, {f"{path}/config.yaml": _configmap("c-config", "a", owner="app-c")})
    repo.write(
        "tenants/dev/app-c.yaml", flux_kustomization("app-c", f"./{path}")
    )  # tenants/dev has no kustomization.yaml
    repo.commit("app-c")

    full, warm = _agreeing(repo, base, tmp_path)

    assert full.changes(TENANTS) == [("create", "Kustomization", "flux-system", "app-c")]
    owner = full.owner("Kustomization/flux-system/app-c")
    assert owner["status"] == "added" and owner["path"] == f"./{path}"
    assert full.changes("Kustomization/flux-system/app-c") == [("create", "ConfigMap", "a", "c-config")]
    # a new owner's directory is known only at head: written once the selected render misses it
    _took(warm, "wrote all")


# -- 7. an object a stand-in already produces ------------------------------------------------------


def test_a_different_copy_of_an_object_a_stand_in_produces_is_planned_as_full_plans_it(tmp_path: Path) -> None:
    """Two owners, two different copies: Flux applies both and the later one wins. The
    selected render meets a stand-in's object, renders that owner too to compare, and plans
    (and warns) as --full does."""
    repo, base = _repo(tmp_path)
    repo.write("apps/a/settings.yaml", _configmap("settings", "flux-system", greeting="hello-from-a"))
    repo.write("apps/a/kustomization.yaml", _kustomization("namespace.yaml", "config.yaml", "settings.yaml"))
    repo.commit("app-a: infra's settings too")

    full, warm = _agreeing(repo, base, tmp_path)

    warnings = [d["summary"] for d in full.data["clusters"][0]["diagnostics"]]
    (fight,) = [w for w in warnings if "ConfigMap/flux-system/settings is also rendered by" in w]
    assert "with different content" in fight and "fight" in fight
    _took(warm, "grew")


def test_the_same_object_a_stand_in_already_produces_is_planned_under_the_first_owner(tmp_path: Path) -> None:
    """Identical copies are allowed, as Flux applies both: the selected render meets a
    stand-in's object, renders that owner too to compare, and plans what --full plans."""
    repo, base = _repo(tmp_path)
    repo.write("apps/a/settings.yaml", _configmap("settings", "flux-system", greeting="hello-from-infra"))
    repo.write("apps/a/kustomization.yaml", _kustomization("namespace.yaml", "config.yaml", "settings.yaml"))
    repo.commit("app-a: the same settings as infra")

    full, warm = _agreeing(repo, base, tmp_path)

    cluster = full.data["clusters"][0]
    assert full.data["summary"] == {  # still infra's object
        "add": 0, "change": 0, "destroy": 0, "forget": 0, "not_planned": 0
    }  # fmt: skip
    warnings = [d["summary"] for d in cluster["diagnostics"]]
    assert any(
        "ConfigMap/flux-system/settings is also rendered by Kustomization/flux-system/infra" in w for w in warnings
    )
    _took(warm, "grew")


# -- a HelmRelease looks up values a stand-in produces ------------------------------------------

GREETER = {
    "charts/greeter/Chart.yaml": "apiVersion: v2\nname: greeter\nversion: 0.1.0\n",
    "charts/greeter/values.yaml": "greeting: chart-default\n",
    "charts/greeter/templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    ),
}


def _release(name: str, values_from: str = "", *, verify: bool = False) -> str:
    verification = "      verify:\n        provider: cosign\n" if verify else ""
    return f"""\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: {name}
  namespace: flux-system
spec:
  interval: 10m
  chart:
    spec:
{verification}      chart: ./charts/greeter
      sourceRef:
        kind: GitRepository
        name: flux-system
        namespace: flux-system
{values_from}"""


def _values_from(name: str, optional: bool) -> str:
    return (
        f"  valuesFrom:\n    - kind: ConfigMap\n      name: {name}\n      valuesKey: greeting\n"
        f"      targetPath: greeting\n      optional: {str(optional).lower()}\n"
    )


@pytest.mark.parametrize("optional", [False, True], ids=["required", "optional"])
def test_release_values_from_a_configmap_a_stand_in_produces(tmp_path: Path, optional: bool) -> None:
    release = {
        **GREETER,
        "apps/a/release.yaml": _release("greeter"),
        "apps/a/kustomization.yaml": _kustomization("namespace.yaml", "config.yaml", "release.yaml"),
    }
    repo, base = _repo(tmp_path, release)
    repo.write("apps/a/release.yaml", _release("greeter", _values_from("settings", optional)))
    repo.commit("greeter: values from infra's settings")

    full, warm = _agreeing(repo, base, tmp_path)

    assert full.changes(APP_A) == [("update", "HelmRelease", "flux-system", "greeter")]
    (change,) = full.owner("HelmRelease/flux-system/greeter")["changes"]
    assert (change["action"], change["kind"], change["name"]) == ("update", "ConfigMap", "greeter")
    assert change["before"]["data"] == {"greeting": "chart-default"}
    assert change["after"]["data"] == {"greeting": "hello-from-infra"}
    _took(warm, "grew")  # optional: the value is missing at first; required: the render fails


def test_selection_grows_twice_files_then_a_lookup(tmp_path: Path) -> None:
    """The first head pass misses files of a generated directory; once written they hold a
    new HelmRelease whose values come from a stand-in, which the third pass renders."""
    fleet = {
        **GREETER,
        **GENERATED,
        "apps/a/release.yaml": _release("greeter"),  # so the chart is read, and written, at head
        "apps/a/kustomization.yaml": _kustomization(
            "namespace.yaml", "config.yaml", "release.yaml", "../../shared/gen/sub/cm.yaml"
        ),
    }
    repo, base = _repo(tmp_path, fleet)
    repo.write("shared/gen/top.yaml", _release("greeter-2", _values_from("settings", optional=True)))
    repo.write("tenants/dev/app-a.yaml", flux_kustomization("app-a", "./shared/gen"))
    repo.commit("app-a: shared/gen, with a second greeter")

    full, warm = _agreeing(repo, base, tmp_path)

    assert full.changes(APP_A) == [
        ("create", "HelmRelease", "flux-system", "greeter-2"),
        ("delete", "Namespace", "", "a"),
        ("delete", "ConfigMap", "a", "a-config"),
        ("delete", "HelmRelease", "flux-system", "greeter"),
    ]
    assert full.changes("HelmRelease/flux-system/greeter-2") == [("create", "ConfigMap", "flux-system", "greeter-2")]
    (created,) = full.owner("HelmRelease/flux-system/greeter-2")["changes"]
    assert created["after"]["data"] == {"greeting": "hello-from-infra"}
    _took(warm, "grew")
    assert warm.renders == 4  # base once; head: missing files, then the stand-in's ConfigMap, then done


# -- warnings of owners that stand in --------------------------------------------------------------

UNDECRYPTED_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: token
  namespace: flux-system
stringData:
  token: ENC[AES256_GCM,data:Zm9v,iv:YmFy,tag:YmF6,type:str]
sops:
  mac: ENC[AES256_GCM,data:Zm9v,iv:YmFy,tag:YmF6,type:str]
  lastmodified: "2024-01-01T00:00:00Z"
  version: 3.8.1
"""

WARNINGS = {
    # helm_render._notes: a HelmRelease asking for chart verification
    "release": {
        **GREETER,
        "infra/release.yaml": _release("greeter", verify=True),
        "infra/kustomization.yaml": _kustomization("settings.yaml", "release.yaml"),
    },
    # postbuild: SOPS data in a Kustomization without spec.decryption
    "kustomization": {
        "infra/token.yaml": UNDECRYPTED_SECRET,
        "infra/kustomization.yaml": _kustomization("settings.yaml", "token.yaml"),
    },
}


@pytest.mark.parametrize("owner", sorted(WARNINGS))
def test_warnings_of_an_owner_standing_in_are_still_reported(tmp_path: Path, owner: str) -> None:
    """An unaffected owner is not rendered, but its warnings (kept in the index) still show."""
    repo, base = _repo(tmp_path, WARNINGS[owner])
    repo.replace("apps/a/config.yaml", "default", "changed")
    repo.commit("app-a: another default")

    full = _diff(repo, base, tmp_path, full=True)
    (cluster,) = full.data["clusters"]
    expected = "spec.chart.spec.verify" if owner == "release" else "Secret/flux-system/token is SOPS-encrypted"
    assert any(expected in d["summary"] for d in cluster["diagnostics"]), cluster["diagnostics"]
    assert full.changes(APP_A) == [("update", "ConfigMap", "a", "a-config")]

    full, warm = _agreeing(repo, base, tmp_path)
    _took(warm, "direct")
