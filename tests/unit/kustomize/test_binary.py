"""kustomize's errors made readable (issue 15, item 9): repository paths instead of private
temp paths, multi-line messages kept whole (file and key), long ones folded and capped."""

from __future__ import annotations

from pathlib import Path

import pytest

from fluxform.errors import RenderError
from fluxform.kustomize.binary import MAX_ERROR_CHARS, readable_error
from fluxform.objects import ObjectId, SourceLocation
from fluxform.planner.kustomization.build import BuildRequest, build_directory
from fluxform.planner.kustomization.cache import BuildCache
from tests.support.trees import write_tree

OWNER = ObjectId("flux-system", "apps", "kustomize.toolkit.fluxcd.io", "Kustomization")
ORIGIN = SourceLocation("clusters/dev/apps.yaml")
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"


def _error(tmp_path: Path, files: dict[str, str], path: str = "apps") -> RenderError:
    root = write_tree(tmp_path / "repo", files)
    with pytest.raises(RenderError) as caught:
        build_directory(BuildRequest(OWNER, ORIGIN, root, path, None), BuildCache.disabled())
    return caught.value


def test_missing_resource_is_named_by_its_repository_path(tmp_path: Path) -> None:
    error = _error(tmp_path, {"apps/kustomization.yaml": "resources: [../base/missing.yaml]\n"})
    line = error.one_line()
    assert line.startswith("Kustomization/flux-system/apps (clusters/dev/apps.yaml): kustomize build failed: ")
    assert "base/missing.yaml" in line
    assert "fluxform-" not in line and str(tmp_path) not in line


def test_multi_line_message_is_kept_whole(tmp_path: Path) -> None:
    files = {"apps/kustomization.yaml": "resources: [x.yaml]\npatches:\n- path: p.yaml\n", "apps/x.yaml": CM}
    files["apps/p.yaml"] = "a: [1\n"
    line = _error(tmp_path, files).one_line()
    assert "trouble configuring builtin PatchTransformer with config" in line
    assert "path: p.yaml" in line and "unable to parse SM or JSON patch" in line


def test_duplicate_key_names_the_file_line_and_key(tmp_path: Path) -> None:
    files = {"apps/kustomization.yaml": "resources: [x.yaml]\n", "apps/x.yaml": CM + "  name: y\n"}
    error = _error(tmp_path, files)
    assert error.location == SourceLocation("apps/x.yaml", 5)
    assert 'yaml: unmarshal errors: line 5: mapping key "name" already defined at line 4' in error.one_line()


def test_deep_nesting_is_folded_and_capped_keeping_the_cause(tmp_path: Path) -> None:
    nested = "[" * 10_000 + "]" * 10_000
    files = {"apps/kustomization.yaml": "resources: [x.yaml]\n", "apps/x.yaml": CM + f"data: {nested}\n"}
    detail = _error(tmp_path, files).detail
    assert len(detail) <= MAX_ERROR_CHARS + 40
    assert "repeated" in detail
    assert "exceeded max depth of 10000" in detail


def test_warnings_before_the_error_are_dropped_and_paths_mapped() -> None:
    stderr = (
        "# Warning: 'patchesStrategicMerge' is deprecated.\n"
        "error: accumulating resources: accumulation err='accumulating resources from 'a.yaml': "
        "open /tmp/fluxform-build-x/root/apps/a.yaml: no such file or directory'\n"
    )
    text = readable_error(stderr, {Path("/tmp/fluxform-build-x/root"): ""})
    assert text.startswith("accumulating resources")
    assert "open apps/a.yaml: no such file" in text
    assert "Warning" not in text


def test_long_message_says_how_much_was_cut() -> None:
    text = readable_error("error: " + "".join(f"field{i} " for i in range(400)))
    assert text.endswith("more characters)")
    assert len(text) < MAX_ERROR_CHARS + 40
