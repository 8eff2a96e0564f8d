"""`fluxform artifact` against real docker-registry processes on 127.0.0.1: reproducible
pushes, pulls equal to the filtered tree, export/import into a second registry with the
signature, and hostile or tampered artifacts refused with one line."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path

import oras.client
import pytest

from fluxform.sources.oci.cosignkey import generate_key_pair
from fluxform.sources.oci.format import Descriptor, flux_artifact, image_manifest
from fluxform.sources.oci.registry import OCI_MANIFEST, OciClient
from tests.support.cli import Result, run
from tests.support.registry import Registry, registry, running_registry
from tests.support.trees import write_tree

__all__ = ["registry"]

SOURCE = ("--source", "https://git.example.com/fleet.git", "--revision", "main@sha1:" + "a" * 40)


@pytest.fixture(scope="module")
def second_registry() -> Iterator[Registry]:
    with running_registry("fluxform-registry2-") as reg:
        yield reg


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    root = write_tree(
        tmp_path / "fleet",
        {
            "clusters/dev/sync.yaml": "kind: Kustomization\n",
            "apps/app.yaml": "kind: ConfigMap\n",
            "apps/logo.png": "binary",  # Flux's default --ignore-paths drops it
            ".git/HEAD": "ref: refs/heads/main\n",  # so it drops VCS files
            "docs/.sourceignore": "draft.md\n",  # and fluxform honours .sourceignore
            "docs/draft.md": "wip",
            "docs/guide.md": "guide",
        },
    )
    (root / "apps" / "link.yaml").symlink_to(root / "apps" / "app.yaml")  # symlinks are not archived
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o755)
    return root


def _one_error_line(result: Result) -> str:
    assert result.code == 1, result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.err
    return lines[0]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_push_twice_gives_one_digest_and_pull_gives_the_filtered_tree(
    registry: Registry, fleet: Path, tmp_path: Path
) -> None:
    url = f"oci://{registry.host}/e2e/fleet:v1"
    first = run("artifact", "push", fleet, url, "--plain-http", *SOURCE, "--creation-time", "2024-05-01T10:00:00Z")
    second = run("artifact", "push", fleet, url, "--plain-http", *SOURCE, "--creation-time", "2024-05-01T10:00:00Z")
    assert first.code == 0, first.err
    digest = first.out.strip()
    assert digest.startswith("sha256:") and second.out.strip() == digest
    assert f"pushed {url}@{digest}" in first.err
    pulled = run("artifact", "pull", url, tmp_path / "out", "--plain-http")
    assert pulled.code == 0, pulled.err
    assert pulled.out.strip() == digest
    assert _files(tmp_path / "out") == {
        "apps/app.yaml": b"kind: ConfigMap\n",
        "clusters/dev/sync.yaml": b"kind: Kustomization\n",
        "docs/.sourceignore": b"draft.md\n",
        "docs/guide.md": b"guide",
        "run.sh": b"#!/bin/sh\n",
    }
    assert (tmp_path / "out" / "run.sh").stat().st_mode & 0o111
    # an independent client (oras) reads the same manifest: Flux's media types and annotations
    manifest = oras.client.OrasClient(hostname=registry.host, insecure=True).get_manifest(
        f"{registry.host}/e2e/fleet:v1"
    )
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.flux.config.v1+json"
    assert [la["mediaType"] for la in manifest["layers"]] == ["application/vnd.cncf.flux.content.v1.tar+gzip"]
    assert manifest["annotations"]["org.opencontainers.image.revision"] == "main@sha1:" + "a" * 40
    inspected = run("artifact", "inspect", url, "--plain-http", "-o", "json")
    info = json.loads(inspected.out)
    assert info["digest"] == digest and info["signed"] is False and info["charts"] == []
    assert info["annotations"]["org.opencontainers.image.created"] == "2024-05-01T10:00:00Z"


def test_pull_output_is_the_format_and_the_old_directory_form_warns(
    registry: Registry, fleet: Path, tmp_path: Path
) -> None:
    """-o follows the CLI's convention (the output format); `-o DIR`, as before, still
    unpacks into DIR, with a deprecation warning."""
    url = f"oci://{registry.host}/e2e/output:v1"
    pushed = run("artifact", "push", fleet, url, "--plain-http", *SOURCE, "--reproducible", "--progress")
    assert pushed.code == 0, pushed.err
    assert f"fluxform: Pushing {fleet} to {url}: 1 done in " in pushed.err  # progress, on stderr
    as_json = run("artifact", "pull", url, tmp_path / "json", "--plain-http", "-o", "json", "--progress")
    assert as_json.code == 0, as_json.err
    assert f"fluxform: Pulling {url}: 1 done in " in as_json.err
    doc = json.loads(as_json.out)
    assert (doc["digest"], doc["directory"], doc["files"]) == (pushed.out.strip(), str(tmp_path / "json"), 5)
    old_form = run("artifact", "pull", url, "--plain-http", "-o", tmp_path / "old")
    assert old_form.code == 0 and old_form.out.strip() == pushed.out.strip()
    assert old_form.err.startswith(f"Warning: artifact pull -o DIR is deprecated: use --dir {tmp_path / 'old'}\n")
    assert _files(tmp_path / "old") == _files(tmp_path / "json")
    missing = run("artifact", "pull", url, "--plain-http")
    assert missing.code == 1 and "missing the directory to unpack into" in _one_error_line(missing)


def test_export_then_import_into_a_second_registry_keeps_the_signature(
    registry: Registry, second_registry: Registry, fleet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private, public = generate_key_pair(b"pw")
    (tmp_path / "cosign.key").write_bytes(private)
    (tmp_path / "cosign.pub").write_bytes(public)
    _, other = generate_key_pair(b"x")
    (tmp_path / "other.pub").write_bytes(other)
    monkeypatch.setenv("COSIGN_PASSWORD", "pw")
    url = f"oci://{registry.host}/e2e/signed:v1"
    pushed = run(
        "artifact", "push", fleet, url, "--plain-http", *SOURCE, "--reproducible", "--sign-key", tmp_path / "cosign.key"
    )
    assert pushed.code == 0, pushed.err
    digest = pushed.out.strip()
    exported = run(
        "artifact", "export", url, tmp_path / "fleet.tar", "--plain-http", "--verify-key", tmp_path / "cosign.pub"
    )
    assert exported.code == 0, exported.err
    with tarfile.open(tmp_path / "fleet.tar") as tar:
        names = tar.getnames()
        index = json.loads((tar.extractfile("index.json") or io.BytesIO()).read())
    assert {"oci-layout", "index.json"} <= set(names)
    refs = sorted(m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"])
    assert refs == [digest.replace(":", "-") + ".sig", "v1"]
    refused = run("artifact", "import", tmp_path / "fleet.tar", f"oci://{second_registry.host}/air/fleet:v1",
                  "--plain-http", "--verify-key", tmp_path / "other.pub")  # fmt: skip
    assert "no cosign signature verifies with the given key" in _one_error_line(refused)
    assert OciClient(second_registry.host, plain_http=True).tags("air/fleet") == []  # nothing written
    target = f"oci://{second_registry.host}/air/fleet:v1"
    imported = run(
        "artifact", "import", tmp_path / "fleet.tar", target, "--plain-http", "--verify-key", tmp_path / "cosign.pub"
    )
    assert imported.code == 0, imported.err
    assert imported.out.strip() == digest
    inspected = run("artifact", "inspect", target, "--plain-http", "--verify-key", tmp_path / "cosign.pub")
    assert f"digest:    {digest}" in inspected.out and "signed:    yes (1 verified)" in inspected.out
    pulled = run(
        "artifact", "pull", target, "--plain-http", "--dir", tmp_path / "out", "--verify-key", tmp_path / "cosign.pub"
    )
    assert pulled.code == 0 and "1 signature(s) verified" in pulled.err
    assert _files(tmp_path / "out")["apps/app.yaml"] == b"kind: ConfigMap\n"
    from_tar = run(
        "artifact", "pull", tmp_path / "fleet.tar", tmp_path / "out2", "--verify-key", tmp_path / "cosign.pub"
    )
    assert from_tar.code == 0 and _files(tmp_path / "out2") == _files(tmp_path / "out")


def _push_raw(registry: Registry, repository: str, layer: bytes) -> str:
    """An artifact whose layer is given as is (hostile archives Flux's tooling cannot make)."""
    artifact = flux_artifact(layer, "sha256:" + "0" * 64, {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"})
    client = OciClient(registry.host, plain_http=True)
    for data in artifact.blobs.values():
        client.put_blob(repository, data)
    client.put_manifest(repository, "v1", artifact.manifest)
    return f"oci://{registry.host}/{repository}:v1"


def _layer(entry: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:") as tar:
        entry.size = len(data) if entry.isreg() else 0
        tar.addfile(entry, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (tarfile.TarInfo("../../etc/cron.d/evil"), "tar entry '../../etc/cron.d/evil' climbs out of the artifact"),
        (
            _link("apps/link", "../../../home/user/.ssh"),
            "tar entry 'apps/link' is a symlink to '../../../home/user/.ssh'",
        ),
    ],
    ids=["tar-slip", "symlink-escape"],
)
def test_hostile_artifact_is_refused_with_one_line(
    registry: Registry, tmp_path: Path, entry: tarfile.TarInfo, expected: str
) -> None:
    url = _push_raw(registry, f"e2e/hostile-{tmp_path.name[-8:].lower().replace('_', '-')}", _layer(entry, b"x"))
    result = run("artifact", "pull", url, tmp_path / "out", "--plain-http")
    line = _one_error_line(result)
    assert line.startswith(f"Error: {url}@sha256:") and expected in line
    assert not (tmp_path / "out").exists()


def test_tampered_blob_and_oversized_artifact_are_refused(registry: Registry, fleet: Path, tmp_path: Path) -> None:
    url = f"oci://{registry.host}/e2e/tampered:v1"
    assert run("artifact", "push", fleet, url, "--plain-http", *SOURCE, "--reproducible").code == 0
    manifest = json.loads(OciClient(registry.host, plain_http=True).manifest("e2e/tampered", "v1")[1])
    too_small = run("artifact", "pull", url, tmp_path / "a", "--plain-http", "--max-artifact-size", "100")
    assert f"is {manifest['layers'][0]['size']} bytes, over the limit of 100" in _one_error_line(too_small)
    layer = manifest["layers"][0]["digest"].removeprefix("sha256:")
    stored = registry.root / "data" / "docker" / "registry" / "v2" / "blobs" / "sha256" / layer[:2] / layer / "data"
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    stored.write_bytes(bytes(data))
    try:
        tampered = run("artifact", "pull", url, tmp_path / "b", "--plain-http")
        assert (
            f"blob 127.0.0.1:{registry.host.split(':')[1]}/e2e/tampered@sha256:{layer} does not match its digest"
            in (_one_error_line(tampered))
        )
        assert not (tmp_path / "b").exists()
    finally:
        data[len(data) // 2] ^= 0xFF
        stored.write_bytes(bytes(data))


def test_registry_errors_name_the_reference(registry: Registry, tmp_path: Path) -> None:
    missing = run("artifact", "inspect", f"oci://{registry.host}/e2e/none:v9", "--plain-http")
    assert _one_error_line(missing).startswith(f"Error: oci://{registry.host}/e2e/none:v9: not found in registry")
    tls = run("artifact", "inspect", f"oci://{registry.host}/e2e/none:v9")  # HTTPS to a plain-HTTP registry
    line = _one_error_line(tls)
    assert (
        line.startswith(f"Error: oci://{registry.host}/e2e/none:v9: TLS handshake with registry")
        and "--ca-file" in line
    )
    bad = run("artifact", "push", tmp_path, "oci://127.0.0.1:1/x", "--plain-http", *SOURCE)
    assert "oci://127.0.0.1:1/x needs a tag to push to" in _one_error_line(bad)


def test_manifest_format_of_charts_and_layouts_round_trip(registry: Registry, tmp_path: Path) -> None:
    """A hand-made OCI image (another tool's) exports and imports unchanged."""
    client = OciClient(registry.host, plain_http=True)
    config = b'{"created":"2024-01-01T00:00:00Z"}'
    layer = _layer(tarfile.TarInfo("a.yaml"), b"a: 1\n")
    manifest = image_manifest(Descriptor.of("application/vnd.cncf.flux.config.v1+json", config),
                              [Descriptor.of("application/vnd.cncf.flux.content.v1.tar+gzip", layer)], {})  # fmt: skip
    client.put_blob("e2e/other", config)
    client.put_blob("e2e/other", layer, mount_from="e2e/fleet")
    digest = client.put_manifest("e2e/other", "v1", manifest, OCI_MANIFEST)
    result = run("artifact", "export", f"oci://{registry.host}/e2e/other:v1", tmp_path / "layout", "--plain-http")
    assert result.code == 0, result.err
    assert (tmp_path / "layout" / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes() == manifest
    again = run("artifact", "import", tmp_path / "layout", f"oci://{registry.host}/e2e/other-copy:v1", "--plain-http")
    assert again.code == 0 and again.out.strip() == digest
