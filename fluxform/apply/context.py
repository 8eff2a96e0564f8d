"""What every owner of one apply run shares: the cluster, the REST mapper, the options, the
observer, the pre-images, and the stop switch.

`check()` is called between two writes (and between two health polls): it raises `Stopped`
once a signal arrived (fluxform/cancellation.py) or another owner failed, so a run stops
between writes, never in the middle of one.

    ctx.check()                       # raises Stopped
    ctx.mask(manifest, paths)         # the state's masking (keyed fingerprints)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fluxform.apply.options import ApplyOptions
from fluxform.apply.preimages import PreImages
from fluxform.apply.progress import ApplyObserver
from fluxform.cancellation import cancelled
from fluxform.cluster.client import ClusterClient
from fluxform.cluster.mapping import RestMapper
from fluxform.errors import FluxformError
from fluxform.planner.plan import Masking

__all__ = ["RunContext", "Stopped"]


class Stopped(FluxformError):
    """The run is stopping (a signal, or another owner failed): no further write is sent."""


@dataclass
class RunContext:
    cluster: ClusterClient
    mapper: RestMapper
    options: ApplyOptions
    observer: ApplyObserver
    preimages: PreImages
    mask: Masking  # the state's masking: what state records and journal digests hold
    recipients: tuple[str, ...] = ()  # age/SSH recipients Secret values in state are sealed to
    by: str = ""  # user@host, recorded in state
    stop_reason: str = ""
    _stop: threading.Event = field(default_factory=threading.Event)

    def stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set() or cancelled()

    def check(self) -> None:
        if cancelled():
            raise Stopped("stopped by a signal")
        if self._stop.is_set():
            raise Stopped(f"stopped: {self.stop_reason}")
