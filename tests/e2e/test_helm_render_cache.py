"""The Helm render cache through `fluxform plan`: a warm plan renders no chart and prints the
same bytes as a cold one (and as one without any cache); and no render whose values may hold
a secret is ever written: values from a Secret, a HelmRelease decrypted with SOPS, a values
ConfigMap decrypted with SOPS, variables substituted from a Secret. Each exclusion is shown by
the cache dir holding only the entry of the plain release beside it, and no plaintext."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fluxform import yamlio
from fluxform.helm import render as render_module
from fluxform.helm.sdk import RenderOptions
from fluxform.helm.sdk import render_chart as sdk_render_chart
from tests.support.charts_http import write_chart
from tests.support.cli import KEYS, run
from tests.support.gitrepo import generated_fleet_repo
from tests.support.sops import SopsCli
from tests.support.trees import FLUX_SYSTEM_SOURCE, flux_kustomization, helm_release, kustomization_file, write_tree

RECIPIENT = "age1eg26z7g52cqtk82wvlva02l24y60sxqx8l2rc0hnxk3zn50jme3sxzkayl"  # fixtures/keys/README.md
PLAINTEXT = "hunter2-render-cache-7d41c9e0"
ECHO = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-echo
data:
  greeting: {{ .Values.greeting | default "hello" | quote }}
  password: {{ .Values.password | default "" | quote }}
  all: {{ toJson .Values | quote }}
"""
DECRYPT = "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n"


@dataclass
class Renders:
    count: int = 0


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Renders:
    """Counts the Helm SDK's template renders (the real call runs)."""
    seen = Renders()

    def counted(chart: Any, values: Mapping[str, Any], options: RenderOptions) -> dict[str, str]:
        seen.count += 1
        return sdk_render_chart(chart, values, options)

    monkeypatch.setattr(render_module, "render_chart", counted)
    return seen


def _plan(cluster: Path, cache: Path, *extra: str) -> str:
    result = run("plan", cluster, "--offline", "-o", "json", "--cache-dir", cache, "--keys-dir", KEYS, *extra)
    assert result.code in (0, 2), result.err
    return result.out


def test_a_warm_plan_renders_no_chart_and_prints_the_same_bytes(tmp_path: Path, renders: Renders) -> None:
    repo = generated_fleet_repo(tmp_path / "repo", clusters=1, kustomizations=4, seed=3)
    repo.commit("fleet")
    cluster, cache = repo.path / "clusters/cluster-00", tmp_path / "cache"

    uncached = _plan(cluster, cache, "--no-cache")
    after_uncached = renders.count
    cold = _plan(cluster, cache)
    after_cold = renders.count
    warm = _plan(cluster, cache)

    assert after_uncached == 4 and after_cold == 8  # one render per HelmRelease, twice
    assert renders.count == after_cold  # the warm plan rendered nothing
    assert warm == cold == uncached
    assert len([p for p in (cache / "renders").rglob("*.json") if p.is_file()]) == 4


def _sops(tmp_path: Path, doc: Mapping[str, Any], regex: str) -> str:
    plain = yamlio.dump(dict(doc)).encode()
    return (
        SopsCli(tmp_path / "gnupg").encrypt(plain, "yaml", age=[RECIPIENT], extra=["--encrypted-regex", regex]).decode()
    )


def _release(name: str, extra: str = "") -> str:
    return helm_release(name, "./charts/echo", extra)


def _values_from(kind: str, name: str) -> str:
    return f"  valuesFrom:\n  - kind: {kind}\n    name: {name}\n"


def _values_secret(tmp_path: Path) -> dict[str, str]:
    """valuesFrom a Secret made by a secretGenerator of a Kustomization that decrypts nothing."""
    generator = {"secretGenerator": [{"name": "scenario-values", "literals": [f"values.yaml=password: {PLAINTEXT}"]}],
                 "generatorOptions": {"disableNameSuffixHash": True}, "namespace": "flux-system",
                 "resources": ["release.yaml"]}  # fmt: skip
    return {
        "apps/scenario/kustomization.yaml": yamlio.dump(generator),
        "apps/scenario/release.yaml": _release("scenario", _values_from("Secret", "scenario-values")),
        "clusters/test/scenario.yaml": flux_kustomization("scenario", "./apps/scenario"),
    }


def _sops_release(tmp_path: Path) -> dict[str, str]:
    """The HelmRelease itself is SOPS-encrypted (its values)."""
    doc = yamlio.load(_release("scenario", f"  values:\n    password: {PLAINTEXT}\n"))
    return {
        "apps/scenario/kustomization.yaml": kustomization_file("release.yaml"),
        "apps/scenario/release.yaml": _sops(tmp_path, doc, "^values$"),
        "clusters/test/scenario.yaml": flux_kustomization("scenario", "./apps/scenario", DECRYPT),
    }


def _sops_configmap(tmp_path: Path) -> dict[str, str]:
    """valuesFrom a ConfigMap that another Kustomization decrypted; the release's own
    Kustomization decrypts nothing."""
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "scenario-values", "namespace": "flux-system"},
                 "data": {"values.yaml": f"password: {PLAINTEXT}\n"}}  # fmt: skip
    return {
        "vars/kustomization.yaml": kustomization_file("values.yaml"),
        "vars/values.yaml": _sops(tmp_path, configmap, "^data$"),
        "clusters/test/vars.yaml": flux_kustomization("vars", "./vars", DECRYPT),
        "apps/scenario/kustomization.yaml": kustomization_file("release.yaml"),
        "apps/scenario/release.yaml": _release("scenario", _values_from("ConfigMap", "scenario-values")),
        "clusters/test/scenario.yaml": flux_kustomization("scenario", "./apps/scenario"),
    }


def _substituted(tmp_path: Path, values: str = "    password: ${db_password}\n") -> dict[str, str]:
    """postBuild substitutes a variable from a Secret (decrypted by another Kustomization)."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "scenario-vars", "namespace": "flux-system"},
              "stringData": {"db_password": PLAINTEXT}}  # fmt: skip
    substitute = "  postBuild:\n    substituteFrom:\n    - kind: Secret\n      name: scenario-vars\n"
    return {
        "vars/kustomization.yaml": kustomization_file("secret.yaml"),
        "vars/secret.yaml": _sops(tmp_path, secret, "^stringData$"),
        "clusters/test/vars.yaml": flux_kustomization("vars", "./vars", DECRYPT),
        "apps/scenario/kustomization.yaml": kustomization_file("release.yaml"),
        "apps/scenario/release.yaml": _release("scenario", "  values:\n" + values),
        "clusters/test/scenario.yaml": flux_kustomization("scenario", "./apps/scenario", substitute),
    }


def _substituted_into_a_key(tmp_path: Path) -> dict[str, str]:
    """The same, the value landing in a map key (no leaf holds it): the rule is the
    Kustomization's substituteFrom, not where the value lands."""
    return _substituted(tmp_path, '    "${db_password}": key\n')


Scenario = Callable[[Path], dict[str, str]]
SCENARIOS: list[Scenario] = [_values_secret, _sops_release, _sops_configmap, _substituted, _substituted_into_a_key]


def _fleet(root: Path, scenario: dict[str, str]) -> Path:
    write_chart(root / "charts", "echo", "1.0.0", templates={"echo.yaml": ECHO})
    write_tree(
        root,
        {
            "clusters/test/flux-system.yaml": FLUX_SYSTEM_SOURCE
            + "---\n"
            + flux_kustomization("flux-system", "./clusters/test"),
            "clusters/test/plain.yaml": flux_kustomization("plain", "./apps/plain"),
            "apps/plain/kustomization.yaml": kustomization_file("release.yaml"),
            "apps/plain/release.yaml": _release("plain", "  values:\n    greeting: plain-greeting\n"),
            **scenario,
        },
    )
    return root / "clusters/test"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.strip("_"))
def test_no_render_that_may_hold_a_secret_is_written(tmp_path: Path, renders: Renders, scenario: Scenario) -> None:
    cluster, cache = _fleet(tmp_path / "fleet", scenario(tmp_path)), tmp_path / "cache"

    first = _plan(cluster, cache)
    second = _plan(cluster, cache)

    assert first == second
    assert "HelmRelease/flux-system/scenario" in first and "HelmRelease/flux-system/plain" in first
    assert renders.count == 3  # plain once (then from the cache), the secret one each time
    entries = [p for p in (cache / "renders").rglob("*") if p.is_file()]
    assert len(entries) == 1 and b"plain-greeting" in entries[0].read_bytes()
    leaked = [p for p in cache.rglob("*") if p.is_file() and PLAINTEXT.encode() in p.read_bytes()]
    assert leaked == []
