"""pytest fixtures: a fresh emulator per test (`kubeapi`), or several (`kubeapi_factory`).

def test_apply(kubeapi):
    run(["kubectl", "--kubeconfig", str(kubeapi.kubeconfig_path), "get", "ns"])
    kubeapi.server.forbid(verb="delete", resource="secrets")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .launch import KubeApi, start_kubeapi

__all__ = ["kubeapi", "kubeapi_factory"]


@pytest.fixture
def kubeapi_factory(tmp_path: Path) -> Iterator[Callable[..., KubeApi]]:
    """Start emulators on demand (keyword options as start_kubeapi); all stop after the test."""
    started: list[KubeApi] = []

    def start(**options: Any) -> KubeApi:
        name = f"kubeconfig-{len(started)}" if started else "kubeconfig"
        api = start_kubeapi(tmp_path / name, **options)
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


@pytest.fixture
def kubeapi(kubeapi_factory: Callable[..., KubeApi]) -> KubeApi:
    """A started emulator with a kubeconfig in tmp_path; stopped after the test."""
    return kubeapi_factory()
