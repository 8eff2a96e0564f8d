"""One built artifact checked field by field against what fluxcd/pkg/oci `Push` writes
(go-containerregistry v0.21.5 mutate + Go's encoding/json), and the JSON/time encodings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fluxform.errors import SourceError
from fluxform.sources.chart_cache import sha256_digest
from fluxform.sources.oci.format import ImageManifest, go_json, parse_created
from fluxform.sources.oci.push import PushRequest, build_artifact
from fluxform.sources.oci.reference import ArtifactRef
from tests.support.trees import write_tree


def test_artifact_matches_flux_push_format(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "fleet", {"apps/app.yaml": "kind: ConfigMap\n"})
    request = PushRequest(
        root, ArtifactRef("reg", "fleet", "v1"), source="https://git/x.git", revision="main@sha1:abc",
        created="2024-05-01T10:00:00Z", annotations={"org.opencontainers.image.description": "a & b"},
    )  # fmt: skip
    artifact, files = build_artifact(request)
    assert files == 1
    manifest = json.loads(artifact.manifest)
    # field order is the Go struct's, keys of maps sorted, compact, `&` escaped as Go does
    assert list(manifest) == ["schemaVersion", "mediaType", "config", "layers", "annotations"]
    assert b"a \\u0026 b" in artifact.manifest and b", " not in artifact.manifest
    assert manifest["schemaVersion"] == 2 and manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert list(manifest["config"]) == ["mediaType", "size", "digest"]
    assert manifest["config"]["mediaType"] == "application/vnd.cncf.flux.config.v1+json"
    [layer] = manifest["layers"]
    assert list(layer) == ["mediaType", "size", "digest"]  # no title annotation (oras adds one)
    assert layer["mediaType"] == "application/vnd.cncf.flux.content.v1.tar+gzip"
    assert manifest["annotations"] == {
        "org.opencontainers.image.created": "2024-05-01T10:00:00Z",
        "org.opencontainers.image.description": "a & b",
        "org.opencontainers.image.revision": "main@sha1:abc",
        "org.opencontainers.image.source": "https://git/x.git",
    }
    config_bytes = artifact.blobs[manifest["config"]["digest"]]
    config = json.loads(config_bytes)
    assert list(config) == ["architecture", "created", "history", "os", "rootfs", "config"]
    assert config["created"] == "2024-05-01T10:00:00Z" and config["config"] == {}
    assert config["history"] == [{"created": "0001-01-01T00:00:00Z"}] and config["architecture"] == config["os"] == ""
    assert config["rootfs"]["type"] == "layers" and len(config["rootfs"]["diff_ids"]) == 1
    for desc in (manifest["config"], layer):
        blob = artifact.blobs[desc["digest"]]
        assert (desc["size"], desc["digest"]) == (len(blob), sha256_digest(blob))
    parsed = ImageManifest.parse(artifact.manifest, "x")
    assert parsed.digest == artifact.digest and parsed.annotations == manifest["annotations"]
    again, _ = build_artifact(request)
    assert again.manifest == artifact.manifest  # reproducible


@pytest.mark.parametrize(
    ("given", "go"),
    [("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"), ("1970-01-01T00:00:00+00:00", "1970-01-01T00:00:00Z"),
     ("2024-05-01T10:00:00.500+02:00", "2024-05-01T10:00:00.5+02:00")],
)  # fmt: skip
def test_created_is_marshalled_as_go_does(given: str, go: str) -> None:
    assert parse_created(given) == go


@pytest.mark.parametrize("bad", ["yesterday", "2024-05-01", "2024-05-01T10:00:00"])
def test_created_must_be_rfc3339(bad: str) -> None:
    with pytest.raises(SourceError, match="invalid creation time"):
        parse_created(bad)


def test_go_json_escapes() -> None:
    assert go_json({"k": "<a>&\u2028é\n", "n": None}) == b'{"k":"\\u003ca\\u003e\\u0026\\u2028\xc3\xa9\\n","n":null}'


def test_manifest_parse_rejects_garbage() -> None:
    with pytest.raises(SourceError, match="not an OCI image manifest"):
        ImageManifest.parse(b'{"schemaVersion":1}', "x")
    bad_digest = b'{"schemaVersion":2,"config":{"digest":"sha256:zz","size":1},"layers":[]}'
    with pytest.raises(SourceError, match="is not a sha256 digest"):
        ImageManifest.parse(bad_digest, "x")
