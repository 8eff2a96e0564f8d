"""Charts made independent of their source directory (`detached`): every release of one
chart in a run shares one archive, and a changed directory is archived again."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from fluxform.helm.chart_dir import tree_digest
from fluxform.helm.chart_model import ResolvedChart
from fluxform.helm.materialize import _directory_archive, detached
from tests.support.charts_http import write_chart

TEMPLATE = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  v: {{ .Values.v }}\n"


def _resolved(chart_dir: Path, source: str) -> ResolvedChart:
    return ResolvedChart("app", "1.0.0", source, tree_digest(chart_dir), path=chart_dir)


def _values_in(archive: bytes) -> str:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = tar.extractfile("app/values.yaml")
        assert member is not None
        return member.read().decode()


def test_releases_of_one_chart_share_one_archive(tmp_path: Path) -> None:
    chart_dir = write_chart(tmp_path, "app", "1.0.0", templates={"cm.yaml": TEMPLATE}, values={"v": "one"})
    before = _directory_archive.cache_info()
    first = detached(_resolved(chart_dir, "release a"))
    second = detached(_resolved(chart_dir, "release b"))
    after = _directory_archive.cache_info()
    assert first.path is None and second.path is None and first.data is not None
    assert first.data == second.data and "one" in _values_in(first.data)
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 1)  # archived once, then shared


def test_a_changed_directory_is_archived_again(tmp_path: Path) -> None:
    chart_dir = write_chart(tmp_path, "app", "1.0.0", templates={"cm.yaml": TEMPLATE}, values={"v": "old"})
    old = detached(_resolved(chart_dir, "release"))
    (chart_dir / "values.yaml").write_text("v: new\n")
    new = detached(_resolved(chart_dir, "release"))
    assert old.data is not None and new.data is not None
    assert "old" in _values_in(old.data) and "new" in _values_in(new.data)
