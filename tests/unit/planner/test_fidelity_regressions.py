"""Regression tests for fidelity and safety bugs found while pinning the Flux build rules:
the secure filesystem, generator decoding, component locality, CRD-required fields and YAML
edge cases. Each test names the Flux behaviour (and source) it pins."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from fluxform import yamlio
from fluxform.errors import RenderError
from fluxform.kustomize.engine import kustomize_build
from fluxform.planner.kustomization.build import BuildRequest, build_directory
from fluxform.planner.kustomization.cache import BuildCache
from fluxform.planner.kustomization.generate import prepare_kustomization
from fluxform.planner.kustomization.spec import FluxKustomization
from fluxform.sources.artifact import materialize_artifact
from tests.support.ids import ks
from tests.support.kubeclient import kubectl_decode
from tests.support.trees import write_tree

OWNER = ks("apps")
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


# ---- build.py: the secure filesystem (flux-semantics 1.1 step 5) ----------------------------


def test_build_refuses_absolute_resource_outside_the_artifact(tmp_path: Path) -> None:
    """1.1 step 5: kustomize runs on a secure filesystem rooted at the artifact root: nothing
    outside root can be read (fluxcd/pkg kustomize/filesys/fs_secure.go returns
    `fs-security-constraint read <path>: path ... is not in or below root`).
    Was: our mirror runs plain `kubectl kustomize --load-restrictor LoadRestrictionsNone`, so a
    repo can read any local file (e.g. ~/.kube/config through a configMapGenerator) into the plan."""
    outside = write_tree(tmp_path, {"outside.yaml": CM.format(name="leaked")}) / "outside.yaml"
    root = write_tree(tmp_path / "root", {"app/kustomization.yaml": f"resources:\n- {outside}\n"})
    with pytest.raises(RenderError):
        build_directory(BuildRequest(OWNER, None, root, "app", None), BuildCache.disabled())


def test_build_refuses_relative_escape_from_the_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same rule, relative form: `../../..` from the private mirror climbs into the real temp
    dir. Was: a generator file three levels up is read (and is not in the cache key either)."""
    temp = tmp_path / "t"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    write_tree(temp, {"stolen.txt": "secret-from-disk"})
    # mirror layout: <temp>/fluxform-build-XXXX/root/app -> ../../../stolen.txt is <temp>/stolen.txt
    root = write_tree(
        tmp_path / "root",
        {"app/kustomization.yaml": "configMapGenerator:\n- name: c\n  files: [../../../stolen.txt]\n"},
    )
    with pytest.raises(RenderError):
        build_directory(BuildRequest(OWNER, None, root, "app", None), BuildCache.disabled())


# ---- generate.py (flux-semantics 1.2 / 1.3) ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("values.yaml", "replicaCount: 1\nimage: {tag: v1}\n"),
        ("noname.yaml", "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n"),
    ],
    ids=["no kind (helm values)", "no metadata.name"],
)
def test_generator_rejects_yaml_that_is_not_a_kubernetes_object(tmp_path: Path, name: str, text: str) -> None:
    """1.2: Flux's generator decodes each file with kustomize's ResourceFactory.SliceFromBytes,
    which validates kind and metadata.name (kyaml GetValidatedMetadata), so a stray
    values.yaml fails with `failed to decode Kubernetes YAML from <path>: missing kind ...`.
    Was: we only check YAML syntax; the build then fails later inside kustomize with another
    message and no file location."""
    write_tree(tmp_path, {name: text, "ok.yaml": CM.format(name="ok")})
    with pytest.raises(RenderError, match=f"failed to decode Kubernetes YAML from {name}"):
        prepare_kustomization(tmp_path, spec=None, root=tmp_path)


def test_generator_accepts_custom_tags_like_kyaml(tmp_path: Path) -> None:
    """1.2: kyaml (yaml.v3) accepts unknown tags such as `!foo` (kustomize drops the tag and
    builds; checked with kubectl kustomize 5.8.1), so Flux's generator lists such a manifest.
    Was: yamlio refuses unknown tags, so we raise `failed to decode Kubernetes YAML`."""
    write_tree(tmp_path, {"cm.yaml": CM.format(name="t") + "data:\n  a: !foo bar\n"})
    assert prepare_kustomization(tmp_path, spec=None).document["resources"] == ["./cm.yaml"]


@pytest.mark.parametrize(
    ("component", "local"),
    [
        ("HTTPS://github.com/owner/repo", False),
        ("Git::https://example.com/repo", False),
        ("file:///abs/component", False),
        ("github.com-mirror/component", True),
    ],
    ids=["scheme upper case", "git:: mixed case", "file:// absolute", "local dir starting github.com"],
)
def test_component_locality_matches_flux(tmp_path: Path, component: str, local: bool) -> None:
    """1.3: fluxcd/pkg IsLocalRelativePath lower-cases before matching the prefixes
    `git:: gh: ssh:// https:// http:// git@ github.com: github.com/`, and also rejects
    `file://` + absolute path. Was: our prefix check is case-sensitive, misses file:///, and
    uses `github.com` without the ':' or '/' that follows it."""
    write_tree(tmp_path, {"kustomization.yaml": "resources: []\n"})
    if local:
        assert prepare_kustomization(tmp_path, spec={"components": [component]}).document["components"] == [component]
    else:
        with pytest.raises(RenderError, match="must be local and relative"):
            prepare_kustomization(tmp_path, spec={"components": [component]})


# ---- sources/artifact.py (flux-semantics 6.1) ----------------------------------------------


def test_negation_re_includes_a_file_inside_an_excluded_directory(tmp_path: Path) -> None:
    """6.1: source-controller's Archive walks every directory (an excluded directory is not
    skipped, only not archived itself) and asks the go-git matcher about each file, last
    pattern first; so `!deploy/keep.yaml` after `deploy/` brings keep.yaml back.
    Was: copy_filtered prunes ignored directories, so keep.yaml is lost."""
    src = write_tree(
        tmp_path / "src",
        {".sourceignore": "deploy/\n!deploy/keep.yaml\n", "deploy/keep.yaml": "", "deploy/drop.yaml": ""},
    )
    with materialize_artifact(src) as artifact:
        files = {str(Path(d, n).relative_to(artifact.root)) for d, _, ns in os.walk(artifact.root) for n in ns}
    assert files == {".sourceignore", "deploy/keep.yaml"}


# ---- yamlio.py -----------------------------------------------------------------------------


def test_dump_round_trips_next_line_character() -> None:
    """dump -> load must round-trip every string. Was: a string holding NEL (U+0085) is
    written raw inside a quoted scalar; YAML 1.1 (PyYAML and go-yaml v2, checked with kubectl)
    reads NEL as a line break and folds it to a space: 'a\\x85b' comes back as 'a b'.
    Fix: escape U+0085 (double-quoted style) when dumping."""
    assert yamlio.load(yamlio.dump({"k": "a\x85b"})) == {"k": "a\x85b"}


@pytest.mark.parametrize(
    ("text", "go_value"),
    [("!!binary aGk=", "hi"), ("!!set {x}", {"x": None}), ("!!omap [{x: 1}]", [{"x": 1}])],
    ids=["binary -> string", "set -> mapping", "omap -> list of mappings"],
)
def test_standard_tags_give_json_values_like_kubectl(tmp_path: Path, text: str, go_value: object) -> None:
    """sigs.k8s.io/yaml turns !!binary into the decoded string, !!set into a mapping of nulls
    and !!omap into a list of mappings (checked with kubectl). Was: yamlio returns bytes, a
    Python set and tuples: non-JSON values that break json.dumps of a plan later."""
    path = tmp_path / "cm.yaml"
    path.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: t\nv: {text}\n")
    assert kubectl_decode(path)["v"] == go_value
    assert yamlio.load(path.read_text())["v"] == go_value


def test_null_mapping_key_is_an_error_like_kubectl() -> None:
    """kubectl refuses `~: x` (`unsupported map key of type: %!s(<nil>)`); Was: we make it 'null'."""
    with pytest.raises(yamlio.YamlError):
        yamlio.load("~: x\n")


@pytest.mark.parametrize(
    ("key", "go_key"), [("1e20", "1e+20"), ("3.14159265358979", "3.1415927")], ids=["exponent", "32-bit precision"]
)
def test_float_keys_formatted_like_sigs_yaml(key: str, go_key: str) -> None:
    """sigs.k8s.io/yaml formats float keys with strconv.FormatFloat(v, 'g', -1, 32)
    (checked with kubectl). Was: we print Python's repr."""
    assert yamlio.load(f"{key}: x\n") == {go_key: "x"}


def test_dumped_date_strings_survive_kustomize(tmp_path: Path) -> None:
    """kustomize 5.8.1 resolves plain scalars of the files it reads as YAML timestamps and
    re-emits them as RFC3339 (`2001-12-14` -> "2001-12-14T00:00:00Z", checked with kubectl
    kustomize). yamlio.dump writes the *string* '2001-12-14' unquoted (fine for go-yaml v2),
    so YAML fluxform writes for kustomize to read (the merged kustomization.yaml, patches)
    changes value on the way. Was: dump should also quote timestamp-like strings."""
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t"}, "data": {"d": "2001-12-14"}}
    write_tree(tmp_path, {"cm.yaml": yamlio.dump(doc), "kustomization.yaml": "resources: [cm.yaml]\n"})
    assert yamlio.load(kustomize_build(tmp_path))["data"] == {"d": "2001-12-14"}


# ---- flux.py (flux-semantics 4.8; kustomize-controller api/v1/kustomization_types.go) ------


def _ks(**spec: object) -> dict[str, object]:
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "apps", "namespace": "flux-system"},
        "spec": {"interval": "10m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "r"}, **spec},
    }


@pytest.mark.parametrize("field", ["interval", "prune"])
def test_required_spec_fields_are_enforced(field: str) -> None:
    """4.8 / CRD schema: `interval` and `prune` are `+required`; the API server refuses a
    Kustomization without them, so Flux never reconciles it. BUG (validation gap): from_doc
    defaults them (interval '' -> timeout 30 s, prune False) and plans as if valid."""
    doc = _ks()
    spec = doc["spec"]
    assert isinstance(spec, dict)
    del spec[field]
    with pytest.raises(RenderError, match=field):
        FluxKustomization.from_doc(doc)


def test_prune_must_be_a_boolean() -> None:
    """CRD schema: `prune` is a boolean (`"false"` is refused by the API server).
    Was: bool("false") is True, so a quoted "false" plans *with* pruning."""
    with pytest.raises(RenderError, match="prune"):
        FluxKustomization.from_doc(_ks(prune="false"))
