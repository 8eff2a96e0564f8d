"""Which answers are repeated, how long the client waits, and the repeats seen on the wire."""

from __future__ import annotations

import pytest

from fluxform.cluster.client import ClusterOptions, connect
from fluxform.cluster.retry import RetryPolicy
from fluxform.errors import ClusterError
from tests.kubeapi import KubeApi


@pytest.mark.parametrize(
    ("status", "attempt", "repeated"),
    [
        (0, 1, True),  # no answer: dropped, refused, timed out
        (429, 1, True),
        (500, 1, True),
        (503, 3, True),
        (504, 4, False),  # out of attempts
        (400, 1, False),
        (403, 1, False),
        (404, 1, False),
        (409, 1, False),
        (422, 1, False),
    ],
    ids=lambda v: str(v),
)
def test_which_answers_are_repeated(status: int, attempt: int, repeated: bool) -> None:
    assert RetryPolicy(attempts=4).should_retry(status, attempt=attempt) is repeated


def test_backoff_doubles_with_jitter_and_honours_retry_after() -> None:
    policy = RetryPolicy(backoff=0.1, max_delay=5.0)
    for attempt, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4)):
        delay = policy.delay(attempt=attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert policy.delay(attempt=1, retry_after="3") == 3.0
    assert policy.delay(attempt=1, retry_after="120") == 5.0  # capped
    assert policy.delay(attempt=9) <= 5.0


def test_throttling_is_waited_out_and_a_last_429_is_an_error(kubeapi: KubeApi) -> None:
    options = ClusterOptions(kubeconfig=kubeapi.kubeconfig, retry=RetryPolicy(attempts=3, backoff=0.01))
    kubeapi.server.inject_fault("^/api$", status=429, times=2)
    with connect(options) as cluster:
        assert cluster.request("GET", "/api").ok
        assert (cluster.request_count, cluster.retry_count) == (3, 2)
        kubeapi.server.inject_fault("^/api$", status=429, times=3)
        with pytest.raises(ClusterError, match=r"GET /api failed \(context kubeapi\): HTTP 429 TooManyRequests"):
            cluster.request("GET", "/api")
