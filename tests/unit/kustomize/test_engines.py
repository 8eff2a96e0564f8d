"""The two kustomize engines (issue 21, lever 1): the in-process engine builds the same bytes
as `kubectl kustomize` on every fixture fleet, keeps the bounds (time limit, heap limit)
and keeps kustomize's warnings off the user's terminal; the engine is chosen by
FLUXFORM_KUSTOMIZE_ENGINE, else in-process when pykustomize is installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.fleetgen import FleetSpec, generate_fleet
from fluxform.errors import RenderError
from fluxform.kustomize.binary import SubprocessEngine
from fluxform.kustomize.engine import ENGINE_VARIABLE, kustomize_build, kustomize_engine
from fluxform.kustomize.inprocess import InProcessEngine
from fluxform.limits import LimitExceeded
from tests.support.cli import FIXTURES, KEYS, run
from tests.support.engines import ComparingEngine, inprocess_engine, use_engine
from tests.support.trees import write_tree

#: Every cluster of every fixture fleet (bad ones included: their errors must match too).
FIXTURE_CLUSTERS = sorted(
    [FIXTURES / "fleet/clusters/staging", FIXTURES / "fleet/clusters/production", FIXTURES / "minimal/clusters/dev"]
    + [c for c in (FIXTURES / "bad").glob("*/clusters/*") if c.is_dir()]
)


def _cm(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: default\n"


@pytest.mark.parametrize("cluster", FIXTURE_CLUSTERS, ids=lambda c: str(c.relative_to(FIXTURES)))
def test_both_engines_build_the_same_bytes_on_every_fixture_fleet(
    cluster: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every build a plan makes (Flux's generated kustomizations, overlays, post-renderers,
    failing builds) is built by both engines and compared byte for byte."""
    with ComparingEngine().installed(monkeypatch) as both:
        run("plan", cluster, "--keys-dir", KEYS, "--no-cache", "--offline", "--partial")
    assert both.builds > 0
    assert both.mismatches == []


def test_both_engines_build_the_same_bytes_on_a_generated_fleet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Components, configMapGenerators, patches, images and HelmRelease post-renderers."""
    layout = generate_fleet(tmp_path / "fleet", FleetSpec(clusters=2, kustomizations=4, seed=7))
    with ComparingEngine().installed(monkeypatch) as both:
        for cluster in layout.cluster_paths:
            result = run("plan", layout.root / cluster, "--no-cache", "--offline")
            assert result.code == 0, result.err
    assert both.builds >= 2 * 4
    assert both.mismatches == []


@pytest.mark.parametrize(
    ("value", "expected"), [("subprocess", SubprocessEngine), ("inprocess", InProcessEngine), ("", InProcessEngine)]
)
def test_engine_is_chosen_by_the_variable_else_in_process_when_installed(
    value: str, expected: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    inprocess_engine()
    monkeypatch.setenv(ENGINE_VARIABLE, value)
    kustomize_engine.cache_clear()
    try:
        assert isinstance(kustomize_engine(), expected)
    finally:
        kustomize_engine.cache_clear()


def test_an_unknown_engine_is_one_error_before_anything_is_built(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "fleet", {"clusters/dev/cm.yaml": _cm("a")})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ENGINE_VARIABLE, "fast")
        kustomize_engine.cache_clear()
        try:
            result = run("plan", root / "clusters/dev")
        finally:
            kustomize_engine.cache_clear()
    assert result.code == 1
    assert result.err.splitlines() == [
        f"Error: {ENGINE_VARIABLE}='fast' is not one of subprocess, inprocess (hint: unset it to use the in-process "
        "engine when pykustomize is installed, else kubectl kustomize)"
    ]


def test_version_names_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("subprocess", "inprocess"):
        with use_engine(monkeypatch, name):
            kustomize = dict(line.split(": ", 1) for line in run("version").out.splitlines())["kustomize"]
        assert kustomize.endswith(f"engine {name})")
    assert "kustomize api v0." in inprocess_engine().describe()


def test_in_process_build_past_its_time_limit_is_stopped_and_the_next_build_works(tmp_path: Path) -> None:
    """The worker is killed at the deadline (a Go call cannot be interrupted; a process can)."""
    big = write_tree(tmp_path / "big", {"kustomization.yaml": "resources: [cms.yaml]\n"})
    (big / "cms.yaml").write_text("---\n".join(_cm(f"cm-{i}") for i in range(1000)))  # ~1 s in kustomize
    small = write_tree(tmp_path / "small", {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": _cm("x")})
    engine = inprocess_engine()
    try:
        with pytest.raises(LimitExceeded, match=r"kustomize build was stopped at its time limit of 0\.01 s"):
            engine.build(big, timeout=0.01)
        assert "name: x" in engine.build(small, timeout=120)
    finally:
        engine.close()


def test_in_process_worker_keeps_the_heap_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fluxform.limits import current_limits

    small = write_tree(tmp_path / "small", {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": _cm("x")})
    monkeypatch.setenv("FLUXFORM_TOOL_MEMORY_MB", "60")  # below what Python and Go's runtime need
    current_limits.cache_clear()
    engine = inprocess_engine()
    try:
        with pytest.raises(LimitExceeded, match="stopped at its memory limit of 60 MiB"):
            engine.build(small, timeout=60)
    finally:
        engine.close()
        monkeypatch.delenv("FLUXFORM_TOOL_MEMORY_MB")
        current_limits.cache_clear()


def test_a_worker_that_died_while_idle_is_replaced(tmp_path: Path) -> None:
    small = write_tree(tmp_path / "small", {"kustomization.yaml": "resources: [cm.yaml]\n", "cm.yaml": _cm("x")})
    engine = inprocess_engine()
    try:
        engine.build(small, timeout=60)
        [idle] = engine._idle
        idle.proc.kill()
        idle.proc.wait()
        assert "name: x" in engine.build(small, timeout=60)
        assert engine._idle and engine._idle[0] is not idle
    finally:
        engine.close()


def test_kustomize_warnings_stay_off_the_terminal(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """kustomize prints deprecation warnings on stderr: the worker's, never fluxform's."""
    deprecated = write_tree(
        tmp_path / "old", {"kustomization.yaml": "commonLabels: {a: b}\nresources: [cm.yaml]\n", "cm.yaml": _cm("x")}
    )
    engine = inprocess_engine()
    try:
        assert "a: b" in engine.build(deprecated, timeout=60)
    finally:
        engine.close()
    assert "deprecated" not in capfd.readouterr().err


def test_kustomize_quoting_invalid_utf8_reads_the_same_from_both_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kustomize quotes a line it cannot read as UTF-8: the worker passes Go's bytes on (as
    the subprocess engine reads stderr), instead of failing to decode them."""
    root = write_tree(
        tmp_path / "repo", {"app/kustomization.yaml": "configMapGenerator:\n- name: x\n  envs: [bad.env]\n"}
    )
    (root / "app/bad.env").write_bytes(b"GOOD=1\nTOKEN=\xff\xfeabc\n")
    messages = []
    for name in ("subprocess", "inprocess"):
        with use_engine(monkeypatch, name), pytest.raises(RenderError) as caught:
            kustomize_build(root / "app", paths={root: ""})
        messages.append(caught.value.detail)
    assert messages[0] == messages[1]
    assert "invalid utf8" in messages[0]


def test_errors_read_the_same_from_both_engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = write_tree(tmp_path / "repo", {"app/kustomization.yaml": "resources: [missing.yaml]\n"})
    messages = []
    for name in ("subprocess", "inprocess"):
        with use_engine(monkeypatch, name), pytest.raises(RenderError) as caught:
            kustomize_build(broken / "app", paths={broken: ""})
        messages.append(caught.value.detail)
    assert messages[0] == messages[1]
    assert "app/missing.yaml" in messages[0] and str(tmp_path) not in messages[0]
