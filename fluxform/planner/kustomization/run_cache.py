"""Builds shared within one run: every build whose inputs are equal runs once.

The build cache is keyed by content (the kustomization Flux would write and every file it
reads), so two owners that build the same thing, in one cluster or in several clusters of
one `plan PATH...`, or at two revisions of one `diff`, have the same key. This layer keeps
each output in memory for the run, in front of the cache directory, so the second asks
neither kustomize nor the disk, with `--no-cache` too (nothing is written then). Builds
from decrypted inputs never come here (discover builds them with a cache of their own).

    cache = RunBuildCache(directory)        # or RunBuildCache(None): memory only
    cache.shared                            # builds answered from memory
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from fluxform.planner.kustomization.cache import BuildCache

__all__ = ["RunBuildCache"]


@dataclass
class RunBuildCache(BuildCache):
    """A BuildCache that also remembers, for the run, every output it saw."""

    shared: int = 0  # answers from memory: builds a run did not repeat
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get(self, key: str) -> Any:
        with self._lock:
            found = self._memo.get(key)
            if found is not None:
                self.shared += 1
                return found
        found = super().get(key)
        if found is not None:
            with self._lock:
                self._memo[key] = found
        return found

    def put(self, key: str, *args: Any, **kwargs: Any) -> Any:
        stored = super().put(key, *args, **kwargs)
        with self._lock:
            self._memo[key] = stored
        return stored
