"""Chart fetching from a real HTTP chart repository and a real OCI registry on 127.0.0.1."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import helm_python
import oras.client
import pytest

from fluxform.errors import SourceError
from fluxform.helm.sdk import use_private_helm_home
from fluxform.sources.chart_cache import ChartCache, sha256_digest
from fluxform.sources.charts import (
    ChartRepository,
    OciSelector,
    fetch_oci_artifact,
    fetch_repository_chart,
)
from fluxform.sources.oci.registry import HELM_CHART_LAYER, HELM_CONFIG, Credentials
from tests.support.charts_http import ChartRepoServer, publish, write_chart
from tests.support.registry import Registry

VERSIONS = ["1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0"]
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"


def _chart_version(data: bytes) -> str:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/Chart.yaml"))
        handle = tar.extractfile(member)
        assert handle is not None
        text = handle.read().decode()
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("version:"))


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    src = tmp_path_factory.mktemp("src")
    out = tmp_path_factory.mktemp("pkg")
    use_private_helm_home()
    built = {}
    for version in VERSIONS:
        chart = write_chart(src / version, "app", version, templates={"cm.yaml": CM})
        built[version] = Path(helm_python.package(chart, destination=out))
    return built


@pytest.fixture
def http_repo(tmp_path: Path, archives: dict[str, Path]) -> Iterator[ChartRepoServer]:
    with ChartRepoServer(tmp_path / "served") as server:
        for archive in archives.values():
            (server.root / archive.name).write_bytes(archive.read_bytes())
        helm_python.repo_index_generate(server.root, base_url=server.url)
        yield server


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [("*", "2.0.0"), ("", "2.0.0"), ("1.x", "1.1.0"), (">=1.2.0-0 <2", "1.2.0-rc.1"), ("1.0.0", "1.0.0")],
    ids=["star", "empty", "range", "prerelease-range", "exact"],
)
def test_http_repository_picks_version(http_repo: ChartRepoServer, tmp_path: Path, wanted: str, expected: str) -> None:
    fetched = fetch_repository_chart(
        ChartRepository(http_repo.url), "app", wanted, ChartCache(tmp_path / "cache"), offline=False
    )
    assert (fetched.name, fetched.version) == ("app", expected)
    assert _chart_version(fetched.data) == expected
    assert fetched.digest == sha256_digest(fetched.data)
    assert fetched.source == f"{http_repo.url}/app-{expected}.tgz"


def test_http_relative_chart_urls(tmp_path: Path) -> None:
    with ChartRepoServer(tmp_path / "served") as server:
        publish(write_chart(tmp_path / "src", "rel", "0.3.0", templates={"cm.yaml": CM}), server, relative_urls=True)
        fetched = fetch_repository_chart(
            ChartRepository(server.url + "/"), "rel", "*", ChartCache(tmp_path / "c"), offline=False
        )
    assert fetched.source == f"{server.url}/rel-0.3.0.tgz"


def test_http_digest_mismatch_is_refused(http_repo: ChartRepoServer, tmp_path: Path) -> None:
    (http_repo.root / "app-1.1.0.tgz").write_bytes(b"not the indexed archive")
    with pytest.raises(SourceError, match="does not match the index digest"):
        fetch_repository_chart(ChartRepository(http_repo.url), "app", "1.1.0", ChartCache(tmp_path), offline=False)


@pytest.mark.parametrize(
    ("chart", "version", "message"),
    [("nope", "*", "chart 'nope' not found"), ("app", ">=3", "no 'app' chart with version matching '>=3'")],
    ids=["unknown-chart", "no-match"],
)
def test_http_resolution_errors(
    http_repo: ChartRepoServer, tmp_path: Path, chart: str, version: str, message: str
) -> None:
    with pytest.raises(SourceError, match=message):
        fetch_repository_chart(ChartRepository(http_repo.url), chart, version, ChartCache(tmp_path), offline=False)


def test_http_basic_auth(tmp_path: Path, archives: dict[str, Path]) -> None:
    with ChartRepoServer(tmp_path / "served", username="flux", password="s3cret") as server:
        (server.root / archives["1.0.0"].name).write_bytes(archives["1.0.0"].read_bytes())
        helm_python.repo_index_generate(server.root, base_url=server.url)
        with pytest.raises(SourceError, match="HTTP 401"):
            fetch_repository_chart(ChartRepository(server.url), "app", "*", ChartCache(tmp_path / "a"), offline=False)
        repo = ChartRepository(server.url, credentials=Credentials("flux", "s3cret"))
        assert fetch_repository_chart(repo, "app", "*", ChartCache(tmp_path / "b"), offline=False).version == "1.0.0"
    assert "s3cret" not in repr(repo)


def test_http_credentials_do_not_follow_redirects_to_other_hosts(tmp_path: Path, archives: dict[str, Path]) -> None:
    with (
        ChartRepoServer(tmp_path / "cdn") as cdn,
        ChartRepoServer(tmp_path / "repo", username="u", password="p") as repo,
    ):
        (cdn.root / "app-1.0.0.tgz").write_bytes(archives["1.0.0"].read_bytes())
        (repo.root / "app-1.0.0.tgz").write_bytes(archives["1.0.0"].read_bytes())
        helm_python.repo_index_generate(repo.root, base_url=repo.url)
        repo.redirect("/app-1.0.0.tgz", f"{cdn.url}/app-1.0.0.tgz")
        chart_repo = ChartRepository(repo.url, credentials=Credentials("u", "p"))
        fetched = fetch_repository_chart(chart_repo, "app", "*", ChartCache(tmp_path / "c"), offline=False)
    assert fetched.version == "1.0.0"
    assert cdn.requests == ["/app-1.0.0.tgz"] and cdn.authorizations == [None]


def test_http_offline_uses_only_the_cache(http_repo: ChartRepoServer, tmp_path: Path) -> None:
    cache = ChartCache(tmp_path / "cache")
    online = fetch_repository_chart(ChartRepository(http_repo.url), "app", "1.x", cache, offline=False)
    served = len(http_repo.requests)
    offline = fetch_repository_chart(ChartRepository(http_repo.url), "app", "1.x", cache, offline=True)
    assert offline == online
    assert len(http_repo.requests) == served


def test_http_offline_without_cache_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        fetch_repository_chart(ChartRepository("http://127.0.0.1:9"), "app", "*", ChartCache(tmp_path), offline=True)
    assert "not in the cache (offline)" in info.value.summary
    assert "fluxform charts pull" in info.value.hint


def test_http_unreachable_repository(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=re.escape("cannot fetch http://127.0.0.1:9/index.yaml")):
        fetch_repository_chart(ChartRepository("http://127.0.0.1:9"), "app", "*", ChartCache(tmp_path), offline=False)


# --- OCI ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oci_charts(registry: Registry, archives: dict[str, Path]) -> str:
    """Push every version with the Helm SDK (`helm push`); returns the repository URL."""
    use_private_helm_home()
    url = f"oci://{registry.host}/charts"
    for archive in archives.values():
        helm_python.push(archive, url, plain_http=True)
    return url


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [("*", "2.0.0"), ("1.x", "1.1.0"), ("1.2.0-rc.1", "1.2.0-rc.1"), ("~1.0", "1.0.0")],
    ids=["star", "range", "exact-prerelease", "tilde"],
)
def test_oci_helm_repository(oci_charts: str, tmp_path: Path, wanted: str, expected: str) -> None:
    repo = ChartRepository(oci_charts, type="oci", insecure=True)
    fetched = fetch_repository_chart(repo, "app", wanted, ChartCache(tmp_path), offline=False)
    assert fetched.version == expected
    assert _chart_version(fetched.data) == expected
    assert fetched.revision.startswith(f"{expected}@sha256:")


def test_oci_offline_after_pull(oci_charts: str, tmp_path: Path) -> None:
    cache = ChartCache(tmp_path)
    repo = ChartRepository(oci_charts, type="oci", insecure=True)
    online = fetch_repository_chart(repo, "app", "1.x", cache, offline=False)
    unreachable = ChartRepository("oci://127.0.0.1:9/charts", type="oci", insecure=True)
    with pytest.raises(SourceError, match="not in the cache"):
        fetch_repository_chart(unreachable, "app", "1.x", cache, offline=True)
    assert fetch_repository_chart(repo, "app", "1.x", cache, offline=True) == online


def test_oci_missing_chart(oci_charts: str, tmp_path: Path) -> None:
    repo = ChartRepository(oci_charts, type="oci", insecure=True)
    with pytest.raises(SourceError, match="not found in registry"):
        fetch_repository_chart(repo, "nope", "1.0.0", ChartCache(tmp_path), offline=False)


@pytest.fixture(scope="module")
def oras_artifact(registry: Registry, archives: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A chart pushed by oras (a second, independent client) with an extra first layer."""
    work = tmp_path_factory.mktemp("oras")
    (work / "readme.txt").write_text("not the chart")
    chart = work / "app.tgz"
    chart.write_bytes(archives["1.1.0"].read_bytes())
    (work / "config.json").write_text(json.dumps({"name": "app", "version": "1.1.0"}))
    client = oras.client.OrasClient(hostname=registry.host, insecure=True)
    target = f"{registry.host}/artifacts/app"
    for tag in ("1.1.0", "latest"):
        client.push(
            target=f"{target}:{tag}",
            files=[f"{work / 'readme.txt'}:text/plain", f"{chart}:{HELM_CHART_LAYER}"],
            manifest_config=f"{work / 'config.json'}:{HELM_CONFIG}",
            disable_path_validation=True,
        )
    return f"oci://{target}"


def test_oci_artifact_selectors(oras_artifact: str, archives: dict[str, Path], tmp_path: Path) -> None:
    cache = ChartCache(tmp_path)
    expected = archives["1.1.0"].read_bytes()
    by_tag = fetch_oci_artifact(
        oras_artifact, OciSelector(tag="1.1.0"), cache, offline=False, layer_media_type=HELM_CHART_LAYER, insecure=True
    )
    assert by_tag.data == expected
    digest = by_tag.revision.split("@", 1)[1]
    by_digest = fetch_oci_artifact(
        oras_artifact,
        OciSelector(digest=digest),
        cache,
        offline=False,
        layer_media_type=HELM_CHART_LAYER,
        insecure=True,
    )
    assert by_digest.data == expected and by_digest.revision == digest
    by_semver = fetch_oci_artifact(
        oras_artifact,
        OciSelector(semver=">=1.0.0"),
        cache,
        offline=False,
        layer_media_type=HELM_CHART_LAYER,
        insecure=True,
    )
    assert by_semver.revision == by_tag.revision
    first_layer = fetch_oci_artifact(oras_artifact, OciSelector(), cache, offline=False, insecure=True)
    assert first_layer.data == b"not the chart"  # no layerSelector: the first layer of tag "latest"
    offline = fetch_oci_artifact(
        oras_artifact, OciSelector(digest=digest), cache, offline=True, layer_media_type=HELM_CHART_LAYER, insecure=True
    )
    assert offline == by_digest


def test_oci_artifact_without_matching_layer(oras_artifact: str, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="has no layer of media type application/x-none"):
        fetch_oci_artifact(
            oras_artifact,
            OciSelector(tag="latest"),
            ChartCache(tmp_path),
            offline=False,
            layer_media_type="application/x-none",
            insecure=True,
        )
