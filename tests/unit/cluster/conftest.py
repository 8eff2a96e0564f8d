"""The cluster tests' connection: fluxform's own client, connected to the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fluxform.cluster.client import ClusterClient, ClusterOptions, connect
from tests.kubeapi import KubeApi


@pytest.fixture
def cluster(kubeapi: KubeApi) -> Iterator[ClusterClient]:
    """A connection through the kubeconfig, as `--kubeconfig` makes (closed after the test)."""
    with connect(ClusterOptions(kubeconfig=kubeapi.kubeconfig)) as client:
        yield client
