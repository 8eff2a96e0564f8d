"""When a Kubernetes API call is sent again, and how long to wait before it.

Every verb fluxform sends may be repeated: reads, dry-runs and server-side apply are
idempotent, and the write verbs settle a repeat's answer themselves (a create answered
409 AlreadyExists after a repeat re-reads the object; a delete answered 404 after a repeat
is done). So the client repeats a call on a dropped connection, a timeout, 429 and the 5xx
answers of an overloaded or restarting API server, with exponential backoff and jitter,
honouring `Retry-After`. It never repeats 4xx refusals: they answer the request.

    policy = RetryPolicy(attempts=4)
    policy.should_retry(503, attempt=1)   # True
    time.sleep(policy.delay(attempt=1, retry_after="2"))
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RETRY_STATUSES", "RetryPolicy"]

#: Answers worth repeating: throttled, or the server (or a proxy in front of it) failing.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4  # sends per call, the first included; 1 = never repeat
    backoff: float = 0.1  # seconds before the first repeat; doubled for each further one
    max_delay: float = 5.0  # cap on one wait, Retry-After included

    def should_retry(self, status: int, *, attempt: int) -> bool:
        """Whether an answer with `status` (0: no answer at all) to send number `attempt` is repeated."""
        return attempt < self.attempts and (status == 0 or status in RETRY_STATUSES)

    def delay(self, *, attempt: int, retry_after: str = "") -> float:
        """Seconds to wait before send number `attempt + 1`."""
        if retry_after.strip().isdigit():
            return min(float(retry_after), self.max_delay)
        base = self.backoff * 2.0 ** (attempt - 1)
        return min(base * random.uniform(0.5, 1.0), self.max_delay)  # jitter: concurrent clients spread out
