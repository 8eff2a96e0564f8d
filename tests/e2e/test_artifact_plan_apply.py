"""Plan and apply from Flux OCI artifacts (issue 20, item 4), through the CLI, against real
docker-registry processes on 127.0.0.1 and the Kubernetes API emulator.

The fleet pushed with `artifact push` plans from its tag exactly as from its directory; the
digest the tag resolved to is in the plan header, the plan file and the state; a saved plan
is refused as stale once the tag moved. An exported layout tar plans with no registry
running. A Kustomization whose sourceRef is an OCIRepository renders from the artifact its
spec.url/ref name, with spec.layerSelector picking the layer, or from `--source NAME=REF`.
A tampered blob, and an unverified artifact where a signature is required, are refused
before anything is planned."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fluxform.sources.oci.cosignkey import generate_key_pair
from fluxform.sources.oci.format import FLUX_CONFIG, FLUX_CONTENT, Descriptor, image_manifest
from fluxform.sources.oci.registry import OCI_MANIFEST, OciClient
from fluxform.state.local import LocalBackend
from fluxform.state.model import StateFile
from tests.kubeapi import KubeApi
from tests.support.applyfleet import write_apply_fleet
from tests.support.charts_http import GREETING_TEMPLATE, ChartRepoServer, publish_versions
from tests.support.cli import FIXTURES, KEYS, Result, run
from tests.support.gitrepo import TestRepo
from tests.support.kubeclient import kubectl_json
from tests.support.registry import Registry, registry, running_registry
from tests.support.trees import (
    FLUX_SYSTEM_SOURCE,
    flux_kustomization,
    helm_release,
    helm_repository,
    replace_in_file,
    write_tree,
)

__all__ = ["registry"]

pytestmark = pytest.mark.usefixtures("shared_build_cache")

SOURCE = ("--source", "https://git.example.com/fleet.git", "--revision", "main@sha1:" + "b" * 40)
DECOY_MEDIA_TYPE = "application/vnd.example.decoy.v1.tar+gzip"
NO_CHANGES = "Plan: 0 to add, 0 to change, 0 to destroy."


def _push(tree: Path, url: str, *args: str) -> str:
    pushed = run("artifact", "push", tree, url, "--plain-http", *SOURCE, "--reproducible", *args)
    assert pushed.code == 0, pushed.err
    return pushed.out.strip()


def _plan_json(*args: str | Path) -> dict[str, Any]:
    result = run("plan", *args, "-o", "json")
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def _state(path: Path) -> StateFile:
    state = LocalBackend(path).read()
    assert state is not None
    return state


def _one_error_line(result: Result) -> str:
    assert result.code == 1, result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.err
    return lines[0]


def _without_origin(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan minus what names where the fleet came from (source, settings, target)."""
    return {k: v for k, v in plan.items() if k not in ("source", "settings", "target")}


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Plans run in an empty directory: nothing of the fleet is on disk there."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_example_fleet_plans_from_its_tag_as_from_its_directory(registry: Registry, tmp_path: Path, cwd: Path) -> None:
    repo = TestRepo.create(tmp_path / "fleet")
    repo.copy_in(FIXTURES / "fleet")
    commit = repo.commit("the example fleet")
    fleet = repo.path
    url = f"oci://{registry.host}/e2e/example:v1"
    pushed = run("artifact", "push", fleet, url, "--plain-http", "--source", SOURCE[1])  # revision: from git
    assert pushed.code == 0, pushed.err
    digest = pushed.out.strip()

    from_tag = _plan_json("clusters/staging", "--source", url, "--plain-http", "--keys-dir", KEYS)
    from_dir = _plan_json(fleet / "clusters" / "staging", "--keys-dir", KEYS)

    assert from_tag["source"]["revision"] == f"{url}@{digest}"
    assert from_tag["settings"]["artifact"] == f"{url}@{digest}" and from_tag["settings"]["repo_root"] == ""
    assert from_tag["target"] == "clusters/staging" and from_tag["settings"]["fleet_path"] == "clusters/staging"
    # the artifact's revision annotation names the commit, so the release whose chart comes
    # from the fleet's GitRepository has the version it has when planned from the checkout
    assert f"podinfo-lite@1.4.0+{commit[:12]}" in {o["path"] for o in from_tag["owners"]}
    assert _without_origin(from_tag) == _without_origin(from_dir)
    text = run("plan", "clusters/staging", "--source", url, "--plain-http", "--keys-dir", KEYS)
    assert f"  source:       {url}@{digest}\n" in text.out


def test_apply_from_the_tag_then_a_moved_tag_makes_the_plan_stale(
    registry: Registry, kubeapi: KubeApi, tmp_path: Path, cwd: Path
) -> None:
    repo = tmp_path / "repo"
    write_apply_fleet(repo)
    url = f"oci://{registry.host}/e2e/apply:v1"
    first = _push(repo, url)
    state = tmp_path / "state.json"
    target = ("--kubeconfig", str(kubeapi.kubeconfig), "--state", str(state))

    planned = run("plan", "clusters/dev", "--source", url, "--plain-http", *target, "--init-state", "--out", "p1.json")
    assert planned.code == 0, planned.err
    assert f"source:       {url}@{first}" in planned.out
    applied = run("apply", "p1.json", *target, "--init-state", "--plain-http")
    assert applied.code == 0, applied.err
    assert "Apply complete: 8 created, 0 configured, 0 deleted; 3 owners: 2 applied, 1 unchanged." in applied.out
    assert kubectl_json(kubeapi, "get", "configmap", "settings", "-n", "demo")["data"] == {"color": "blue"}
    recorded = _state(state)
    revisions = {(o.source_revision, o.source_digest) for o in recorded.owners.values()}
    assert revisions == {(f"{url}@{first}", first)}

    replace_in_file(repo / "apps" / "configmap.yaml", "color: blue", "color: red")
    second_plan = run("plan", "clusters/dev", "--source", url, "--plain-http", *target, "--out", "p2.json")
    assert second_plan.code == 0 and NO_CHANGES in second_plan.out, second_plan.err
    moved = _push(repo, url)  # someone pushes to the tag after the plan
    assert moved != first
    stale = run("apply", "p2.json", *target, "--plain-http")
    line = _one_error_line(stale)
    assert f"the plan is stale: the tag {url} points at {moved}, the plan was made from {first}" in line
    assert _state(state).serial == recorded.serial  # nothing written

    pinned = run("plan", "clusters/dev", "--source", f"{url}@{first}", "--plain-http", *target)
    assert "tag v1 points at" in _one_error_line(pinned)  # a tag and a digest must agree
    by_digest = run("plan", "clusters/dev", "--source", f"oci://{registry.host}/e2e/apply@{first}", "--plain-http",
                    *target)  # fmt: skip
    assert by_digest.code == 0 and NO_CHANGES in by_digest.out, by_digest.err
    again = run("apply", "clusters/dev", "--source", url, "--plain-http", *target, "--auto-approve")
    assert again.code == 0, again.err
    assert kubectl_json(kubeapi, "get", "configmap", "settings", "-n", "demo")["data"] == {"color": "red"}
    assert {o.source_revision for o in _state(state).owners.values()} == {f"{url}@{moved}"}


def test_plan_from_an_exported_tar_with_no_registry_then_from_the_one_it_is_imported_into(
    tmp_path: Path, cwd: Path
) -> None:
    repo = tmp_path / "repo"
    write_apply_fleet(repo)
    tar = tmp_path / "fleet.tar"
    with running_registry("fluxform-registry-gone-") as gone:
        url = f"oci://{gone.host}/e2e/carried:v1"
        digest = _push(repo, url)
        exported = run("artifact", "export", url, tar, "--plain-http")
        assert exported.code == 0, exported.err
    # the registry is stopped and its storage removed: only the tar is left
    from_tar = _plan_json("clusters/dev", "--source", tar)
    from_dir = _plan_json(repo / "clusters" / "dev")
    assert from_tar["source"]["revision"] == f"{tar}@{digest}"
    assert _without_origin(from_tar) == _without_origin(from_dir)
    # the air-gapped side: the tar imported into its internal registry, and planned from there
    with running_registry("fluxform-registry-internal-") as internal:
        target = f"oci://{internal.host}/air/carried:v1"
        imported = run("artifact", "import", tar, target, "--plain-http")
        assert imported.code == 0 and imported.out.strip() == digest, imported.err
        from_internal = _plan_json("clusters/dev", "--source", target, "--plain-http")
    assert from_internal["source"]["revision"] == f"{target}@{digest}"
    assert _without_origin(from_internal) == _without_origin(from_dir)


def _layer(files: dict[str, str]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return gzip.compress(raw.getvalue(), mtime=0)


def _push_two_layers(host: str, repository: str, tag: str, color: str) -> str:
    """An image another tool made: a decoy layer first, the Flux content layer second."""
    client = OciClient(host, plain_http=True)
    config = b"{}"
    decoy = _layer({"decoy.yaml": _configmap("decoy", "grey")})
    content = _layer({"configmap.yaml": _configmap("from-oci", color)})
    for blob in (config, decoy, content):
        client.put_blob(repository, blob)
    layers = [Descriptor.of(DECOY_MEDIA_TYPE, decoy), Descriptor.of(FLUX_CONTENT, content)]
    manifest = image_manifest(
        Descriptor.of(FLUX_CONFIG, config), layers, {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}
    )
    return client.put_manifest(repository, tag, manifest, OCI_MANIFEST)


def _configmap(name: str, color: str) -> str:
    meta = f"metadata:\n  name: {name}\n  namespace: default\n"
    return f"apiVersion: v1\nkind: ConfigMap\n{meta}data:\n  color: {color}\n"


def _oci_fleet(root: Path, url: str, ref: str, extra: str = "") -> Path:
    """A self-managed fleet whose `apps` Kustomization reads the OCIRepository `apps-src`."""
    source = (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: apps-src\n"
        f"  namespace: flux-system\nspec:\n  interval: 5m\n  url: {url}\n  insecure: true\n  ref:\n{ref}"
        f"  layerSelector:\n    mediaType: {FLUX_CONTENT}\n    operation: extract\n{extra}"
    )
    apps = flux_kustomization("apps", "./").replace("kind: GitRepository\n    name: flux-system",
                                                    "kind: OCIRepository\n    name: apps-src")  # fmt: skip
    write_tree(root, {
        "clusters/dev/flux-system/gotk-sync.yaml": FLUX_SYSTEM_SOURCE + "---\n"
        + flux_kustomization("flux-system", "./clusters/dev"),
        "clusters/dev/apps.yaml": source + "---\n" + apps,
    })  # fmt: skip
    return root / "clusters" / "dev"


def _apps_objects(plan: dict[str, Any]) -> dict[str, str]:
    return {
        c["id"]: c["desired"]["data"]["color"]
        for c in plan["changes"]
        if c["owner"] == "Kustomization/flux-system/apps" and c["desired"] is not None
    }


def test_oci_repository_kustomization_with_layer_selector(registry: Registry, tmp_path: Path, cwd: Path) -> None:
    digest = _push_two_layers(registry.host, "e2e/apps", "v1", "green")
    _push_two_layers(registry.host, "e2e/apps", "1.2.0", "teal")
    _push_two_layers(registry.host, "e2e/apps", "1.3.0", "navy")
    _push_two_layers(registry.host, "e2e/apps", "2.0.0", "black")
    url = f"oci://{registry.host}/e2e/apps"

    by_tag = _plan_json(_oci_fleet(tmp_path / "tag", url, "    tag: v1\n"))
    assert _apps_objects(by_tag) == {"default_from-oci__ConfigMap": "green"}  # the selected layer, not the decoy
    pins = {m["name"]: m["path"] for m in by_tag["settings"]["artifact_sources"]}
    assert pins == {"OCIRepository/flux-system/apps-src": f"oci://{registry.host}/e2e/apps:v1@{digest}"}

    by_semver = _plan_json(_oci_fleet(tmp_path / "semver", url, '    semver: "1.x"\n'))
    assert _apps_objects(by_semver) == {"default_from-oci__ConfigMap": "navy"}  # highest 1.x, not 2.0.0

    first_layer = _oci_fleet(tmp_path / "first", url, "    tag: v1\n")
    replace_in_file(first_layer / "apps.yaml", f"mediaType: {FLUX_CONTENT}", f"mediaType: {DECOY_MEDIA_TYPE}")
    assert _apps_objects(_plan_json(first_layer)) == {"default_decoy__ConfigMap": "grey"}

    offline = run("plan", _oci_fleet(tmp_path / "offline", url, "    tag: v1\n"), "--offline")
    assert offline.code == 1
    assert "Kustomization/flux-system/apps" in offline.err and "--offline" in offline.err

    exported = tmp_path / "apps.tar"
    assert run("artifact", "export", f"{url}:1.2.0", exported, "--plain-http").code == 0
    mapped = _plan_json(tmp_path / "offline" / "clusters" / "dev", "--offline", "--source", f"apps-src={exported}")
    assert _apps_objects(mapped) == {"default_from-oci__ConfigMap": "teal"}


def test_tampered_blob_is_refused_before_anything_is_planned(registry: Registry, tmp_path: Path, cwd: Path) -> None:
    repo = tmp_path / "repo"
    write_apply_fleet(repo)
    url = f"oci://{registry.host}/e2e/tampered-plan:v1"
    _push(repo, url)
    manifest = json.loads(OciClient(registry.host, plain_http=True).manifest("e2e/tampered-plan", "v1")[1])
    layer = manifest["layers"][0]["digest"].removeprefix("sha256:")
    stored = registry.root / "data" / "docker" / "registry" / "v2" / "blobs" / "sha256" / layer[:2] / layer / "data"
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    try:
        tampered = run("plan", "clusters/dev", "--source", url, "--plain-http", "--out", "plan.json")
        assert f"@sha256:{layer} does not match its digest" in _one_error_line(tampered)
        assert not (cwd / "plan.json").exists()
    finally:
        data[len(data) // 2] ^= 0xFF
        stored.write_bytes(bytes(data))


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path, Path]]:
    """(private key, its public key, another public key) in cosign's format."""
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    private, public = generate_key_pair(b"pw")
    _, other = generate_key_pair(b"pw")
    paths = (tmp_path / "cosign.key", tmp_path / "cosign.pub", tmp_path / "other.pub")
    for path, data in zip(paths, (private, public, other), strict=True):
        path.write_bytes(data)
    yield paths


def test_signature_required_and_verified(
    registry: Registry, tmp_path: Path, cwd: Path, keys: tuple[Path, Path, Path]
) -> None:
    private, public, other = keys
    repo = tmp_path / "repo"
    write_apply_fleet(repo)
    signed = f"oci://{registry.host}/e2e/signed:v1"
    _push(repo, signed, "--sign-key", str(private))
    unsigned = f"oci://{registry.host}/e2e/unsigned:v1"
    _push(repo, unsigned)

    assert run("plan", "clusters/dev", "--source", signed, "--plain-http", "--verify-key", public).code == 0
    wrong = run("plan", "clusters/dev", "--source", signed, "--plain-http", "--verify-key", other)
    assert "signature" in _one_error_line(wrong)
    missing = run("plan", "clusters/dev", "--source", unsigned, "--plain-http", "--verify-key", public)
    assert "signature" in _one_error_line(missing)

    # an OCIRepository with spec.verify: planned only from a verified artifact
    tree = tmp_path / "apps-tree"
    write_tree(tree, {"configmap.yaml": _configmap("signed-app", "gold")})
    _push(tree, f"oci://{registry.host}/e2e/signed-apps:v1", "--sign-key", str(private))
    verify = "  verify:\n    provider: cosign\n    secretRef:\n      name: cosign-pub\n"
    cluster = _oci_fleet(tmp_path / "verify", f"oci://{registry.host}/e2e/signed-apps", "    tag: v1\n", verify)
    selector = f"  layerSelector:\n    mediaType: {FLUX_CONTENT}\n    operation: extract\n"
    replace_in_file(cluster / "apps.yaml", selector, "")  # the first (only) layer
    refused = run("plan", cluster)
    assert refused.code == 1 and "spec.verify: planned only from a verified artifact" in refused.err
    verified = _plan_json(cluster, "--verify-key", public)
    assert _apps_objects(verified) == {"default_signed-app__ConfigMap": "gold"}


def test_charts_mirrored_in_the_artifact_plan_and_apply_with_an_empty_cache(
    registry: Registry, kubeapi: KubeApi, tmp_path: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # Helm's own files stay out of the user's home
    cache = tmp_path / "charts"
    release = helm_repository("charts", "apps", "http://127.0.0.1:9/unused") + "---\n" + helm_release(
        "hello", "hello", namespace="apps", source="HelmRepository/apps/charts", chart_extra='      version: "1.x"\n'
    )  # fmt: skip
    with ChartRepoServer(tmp_path / "repo") as server:
        publish_versions(
            server, tmp_path / "src", "hello", ["1.0.0", "1.3.0"], templates={"cm.yaml": GREETING_TEMPLATE}
        )
        release = release.replace("http://127.0.0.1:9/unused", server.url)
        sync = flux_kustomization("flux-system", "./clusters/dev") + "---\n" + flux_kustomization("apps", "./apps")
        root = write_tree(tmp_path / "fleet", {"clusters/dev/sync.yaml": sync, "apps/release.yaml": release})
        assert run("charts", "pull", root / "clusters" / "dev", "--chart-cache", cache).code == 0
    url = f"oci://{registry.host}/e2e/with-charts:v1"
    digest = _push(root, url, "--include-charts", "--cluster", str(root / "clusters" / "dev"), "--chart-cache",
                   str(cache))  # fmt: skip
    # the chart repository is gone and the chart cache is empty: charts come from the artifact
    kubectl_json(kubeapi, "create", "namespace", "apps", "-o", "json")
    state = tmp_path / "state.json"
    target = ("--kubeconfig", str(kubeapi.kubeconfig), "--state", str(state), "--init-state")
    flags = ("--source", url, "--plain-http", "--offline", "--chart-cache", str(tmp_path / "empty"))
    planned = run("plan", "clusters/dev", *flags, *target, "--out", "plan.json")
    assert planned.code == 0, planned.err
    assert "+ create  ConfigMap/apps/hello-settings" in planned.out and f"{url}@{digest}" in planned.out
    applied = run("apply", "plan.json", *target, "--plain-http")
    assert applied.code == 0, applied.err
    assert "HelmRelease/apps/hello: applied: Helm install (no release -> revision 1, deployed)" in applied.out
    assert kubectl_json(kubeapi, "get", "configmap", "hello-settings", "-n", "apps")["data"] == {"greeting": "hello"}
    assert not (tmp_path / "empty").exists()  # nothing was fetched into a cache


def test_a_fleet_whose_own_oci_repository_has_spec_verify_needs_a_verified_artifact(
    registry: Registry, tmp_path: Path, cwd: Path, keys: tuple[Path, Path, Path]
) -> None:
    private, public, _ = keys
    url = f"oci://{registry.host}/e2e/self-verified"
    self_source = (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: OCIRepository\nmetadata:\n  name: flux-system\n"
        f"  namespace: flux-system\nspec:\n  interval: 5m\n  url: {url}\n  ref:\n    tag: v1\n"
        "  verify:\n    provider: cosign\n    secretRef:\n      name: cosign-pub\n"
    )
    sync = flux_kustomization("flux-system", "./clusters/dev").replace("kind: GitRepository", "kind: OCIRepository")
    tree = write_tree(tmp_path / "fleet", {
        "clusters/dev/flux-system/sync.yaml": self_source + "---\n" + sync,
        "clusters/dev/settings.yaml": _configmap("settings", "plum"),
    })  # fmt: skip
    _push(tree, f"{url}:v1", "--sign-key", str(private))
    refused = run("plan", "clusters/dev", "--source", f"{url}:v1", "--plain-http")
    line = _one_error_line(refused)
    assert "the fleet's OCIRepository/flux-system/flux-system has spec.verify" in line and "--verify-key" in line
    verified = _plan_json("clusters/dev", "--source", f"{url}:v1", "--plain-http", "--verify-key", public)
    assert "default_settings__ConfigMap" in {c["id"] for c in verified["changes"]}
