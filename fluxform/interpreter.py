"""The real path of this Python interpreter, for the processes a worker starts in turn.

A Helm worker runs as `<venv>/bin/<field manager>` (Helm takes its server-side apply field
manager from argv[0]), so its `sys.executable` names that and not Python; it may even name a
real file that is no interpreter (field manager `fluxform` is the console script). Its parent
passes the real path in WORKER_PYTHON_ENV, and the worker's children (the post-render relay,
the in-process kustomize worker) start from it.

    env = {WORKER_PYTHON_ENV: sys.executable}   # the parent, starting the worker
    [real_interpreter(), "-m", "fluxform.kustomize.worker"]   # inside it
"""

from __future__ import annotations

import os
import sys

__all__ = ["WORKER_PYTHON_ENV", "real_interpreter"]

WORKER_PYTHON_ENV = "FLUXFORM_WORKER_PYTHON"


def real_interpreter() -> str:
    """The parent's word first, else this process's own interpreter."""
    return os.environ.get(WORKER_PYTHON_ENV) or sys.executable
